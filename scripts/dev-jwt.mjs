// `pnpm dev:jwt keys | env | token <userId> [ttlSec]`: a development identity provider for
// AUTH_MODE=jwt (README, "Verified users (AUTH_MODE)"). `keys` makes an ES256 key pair in
// .dev-jwt/ (gitignored: the private key never leaves this machine) and prints the gateway's
// variables (also written to .dev-jwt/env, for `set -a; . .dev-jwt/env; set +a`); `env` prints
// them again; `token` mints a JWT for a user id with the saved private key (keys first if none).
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { SignJWT, exportPKCS8, exportSPKI, generateKeyPair, importPKCS8 } = createRequire(join(root, "apps/gateway/package.json"))("jose");

const dir = join(root, ".dev-jwt");
const files = { privateKey: join(dir, "private.pem"), publicKey: join(dir, "public.pem"), env: join(dir, "env") };
const ALG = "ES256";
const KID = "dev-1";
const ISSUER = "http://localhost/dev-idp";
const AUDIENCE = "concert-dev";

/** The gateway's variables for this key pair, one per line (the PEM with `\n` escapes, which the gateway reads). */
function envLines() {
  const pem = readFileSync(files.publicKey, "utf8").trim().replace(/\n/g, "\\n");
  return [`AUTH_MODE=jwt`, `AUTH_PUBLIC_KEY="${pem}"`, `AUTH_ISSUER=${ISSUER}`, `AUTH_AUDIENCE=${AUDIENCE}`].join("\n");
}

async function makeKeys() {
  mkdirSync(dir, { recursive: true });
  const { publicKey, privateKey } = await generateKeyPair(ALG, { extractable: true });
  writeFileSync(files.privateKey, await exportPKCS8(privateKey), { mode: 0o600 });
  writeFileSync(files.publicKey, await exportSPKI(publicKey));
  writeFileSync(files.env, `${envLines()}\n`);
  process.stderr.write(`dev-jwt: wrote ${files.privateKey} (private, gitignored), ${files.publicKey} and ${files.env}\n`);
}

async function mint(userId, ttlSec) {
  if (!/^[1-9][0-9]{0,9}$/.test(userId ?? "")) throw new Error("usage: dev-jwt token <userId> [ttlSec] (a positive integer user id)");
  if (!existsSync(files.privateKey)) await makeKeys();
  const key = await importPKCS8(readFileSync(files.privateKey, "utf8"), ALG);
  return new SignJWT({})
    .setProtectedHeader({ alg: ALG, kid: KID, typ: "JWT" })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSec}s`)
    .sign(key);
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === "keys") {
    await makeKeys();
    console.log(envLines());
  } else if (command === "env") {
    if (!existsSync(files.publicKey)) await makeKeys();
    console.log(envLines());
  } else if (command === "token") {
    console.log(await mint(args[0], Number(args[1] ?? 3600)));
  } else {
    throw new Error("usage: dev-jwt keys | env | token <userId> [ttlSec]");
  }
} catch (err) {
  process.stderr.write(`dev-jwt: ${err.message}\n`);
  process.exit(1);
}
