// Runs `prisma generate` offline, from any package directory (apps/booking calls it in `build`).
//
// The Prisma CLI tries to download its schema-engine binary before every command, from a host
// this machine cannot reach. `generate` never runs that binary, so naming any existing file in
// PRISMA_SCHEMA_ENGINE_BINARY skips the download. The generated client itself needs no engine: it
// runs on the `pg` driver adapter.
//
// pnpm 10 does not run @prisma/client's postinstall, so this is the only generate step: the
// client is written to apps/booking/src/generated/prisma (gitignored) from prisma/schema.prisma.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bookingRequire = createRequire(join(root, "apps/booking/package.json"));
const cli = join(dirname(bookingRequire.resolve("prisma/package.json")), "build/index.js");

const env = {
  ...process.env,
  CHECKPOINT_DISABLE: "1", // no version-check request
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
};
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath; // any existing file; generate does not run it
}

const result = spawnSync(process.execPath, [cli, "generate", "--config", join(root, "prisma.config.ts"), ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: "inherit",
});
if (result.error) {
  console.error(`prisma generate could not start: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
