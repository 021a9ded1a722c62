// `pnpm start`: runs booking (:3001) and the gateway (:3000) side by side on this machine's
// Redis and Postgres, after the migrations and the seed. Ctrl-C stops both.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { DEFAULT_PORTS } from "../packages/shared/dist/defaults.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = { NODE_ENV: "development", ...process.env };
const gatewayPort = env.GATEWAY_PORT ?? String(DEFAULT_PORTS.gateway);
const bookingPort = env.BOOKING_PORT ?? String(DEFAULT_PORTS.booking);

const children = [
  ["booking", { PORT: bookingPort }],
  ["gateway", { PORT: gatewayPort, BOOKING_URL: env.BOOKING_URL ?? `http://127.0.0.1:${bookingPort}` }],
].map(([app, extra]) => {
  const child = spawn(process.execPath, [join(root, "apps", app, "dist", "main.js")], {
    env: { ...env, ...extra },
    stdio: ["ignore", "inherit", "inherit"],
  });
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`start: ${app} exited (${signal ?? code}); stopping the other app`);
      stop(code ?? 1);
    }
  });
  return child;
});

let stopping = false;
function stop(code) {
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => process.exit(code));
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

// Say where to point a client once both apps answer /health.
async function waitUntilUp(url) {
  for (let i = 0; i < 300 && !stopping; i++) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
const up = await Promise.all([
  waitUntilUp(`http://127.0.0.1:${bookingPort}/health`),
  waitUntilUp(`http://127.0.0.1:${gatewayPort}/health`),
]);
if (up.every(Boolean)) {
  console.log(
    `\n  Concert ticketing is up. Point your client at http://127.0.0.1:${gatewayPort}  (booking: http://127.0.0.1:${bookingPort}, internal)\n`,
  );
}
