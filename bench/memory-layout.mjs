// Redis memory per waiting user of the queue: starts its own redis-server, fills a queue of N
// users through QueueStore.issue (as scenario 2 does) and prints
// (used_memory after − before) ÷ N, plus what each queue key holds.
//
//   node bench/memory-layout.mjs [--n=1000000] [--dist=packages/shared/dist]
//
// --dist points at a built @concert/shared (e.g. an older build copied elsewhere, to compare layouts;
// run it with NODE_PATH=packages/shared/node_modules so it finds ioredis).
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startRedisServer } from "./lib.mjs";
import { fill } from "./scenarios/2-queue-size.mjs";

const require = createRequire(import.meta.url);
const Redis = require("ioredis");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, dflt) =>
  process.argv
    .slice(2)
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3) ?? dflt;
const n = Number(arg("n", "1000000"));
const dist = resolve(arg("dist", join(root, "packages/shared/dist")));
const { QueueStore } = require(dist);

const server = await startRedisServer();
const redis = new Redis(server.url);
try {
  const used = async () => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))[1]);
  const store = new QueueStore(redis, { name: "mem", activeTtlSec: 600, idleTtlSec: 86_400, paymentReplaySec: 300 });
  await store.issue(n + 1); // scripts loaded, queue keys exist
  await redis.memory("PURGE").catch(() => {});
  const before = await used();
  await fill(store, n, () => {});
  const after = await used();
  console.log(`layout of ${dist}`);
  console.log(
    `${n.toLocaleString("en-US")} waiting users: ${((after - before) / n).toFixed(1)} bytes per waiting user (used_memory +${after - before})`,
  );
  console.log(`keys in Redis: ${await redis.dbsize()}`);
  for (const [name, key] of Object.entries(store.keys)) {
    if (name === "prefix") continue;
    const [type, bytes] = await Promise.all([redis.type(key), redis.memory("USAGE", key, "SAMPLES", "0").catch(() => null)]);
    if (type !== "none") console.log(`  ${key.padEnd(16)} ${type.padEnd(6)} ${bytes === null ? "" : `${(bytes / n).toFixed(1)} B/user`}`);
  }
} finally {
  redis.disconnect();
  await server.stop();
}
