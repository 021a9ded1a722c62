// `node bench/sse-streams.mjs [--levels 1000,5000,10000] [--ticks 10]` (after `pnpm build`):
// how many GET /api/queue/stream connections one gateway instance holds, and what each admission
// tick costs it. One gateway process (ticking every QUEUE_TICK_MS = 1000 ms, admitting 10 per
// tick) on this machine's Redis; a queue of "filler" users ahead of the streamed users, so every
// tick admits somebody and every open stream's rank changes: each tick is a full fan-out (one
// pipelined recompute of every stream + one frame per stream). Per level it reports the gateway's
// and Redis's CPU per tick (from /proc, over `--ticks` ticks), the gateway's RSS, and the spread
// between the first and the last frame of a tick as the clients see them.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import http from "node:http";
import { DEFAULT_REDIS_URL } from "../packages/shared/dist/defaults.js";
import { cpuSeconds, freePort, startProcess } from "./lib.mjs";

const require = createRequire(import.meta.url);
const Redis = require("ioredis");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
};
const levels = arg("levels", "1000,5000,10000,18000").split(",").map(Number);
const ticksPerLevel = Number(arg("ticks", "10"));
const tickMs = 1000;
const batch = 10;
const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

const redis = new Redis(redisUrl);
const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))[1]);
const queueName = `bench-sse-${Date.now()}`;
const port = await freePort();
const gw = `http://127.0.0.1:${port}`;
const gateway = await startProcess(
  "gateway",
  [join(root, "apps/gateway/dist/main.js")],
  {
    PORT: port,
    HOST: "127.0.0.1",
    NODE_ENV: "development",
    LOG_LEVEL: "warn",
    QUEUE_NAME: queueName,
    QUEUE_TICK_MS: tickMs,
    QUEUE_ADMIT_BATCH: batch,
    QUEUE_MAX_ACTIVE: 10_000_000,
    WAITING_IDLE_TTL_SEC: 3600,
    TOKEN_RATE_LIMIT: 0,
    // every stream comes from this one address; the instance cap must leave room for the largest row
    SSE_MAX_PER_CLIENT: 1_000_000,
    SSE_MAX_STREAMS: 1_000_000,
    SSE_FD_RESERVE: 1_000,
  },
  `${gw}/health`,
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const streamAgent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

function post(path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${gw}${path}`, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      let data = "";
      res.on("data", (d) => (data += d));
      res.on("end", () => resolve(JSON.parse(data)));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function pool(items, concurrency, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

// Clients: every frame is counted; frames of one tick arrive within a burst, so the spread of a
// burst is the fan-out latency the clients see.
const streams = [];
let frames = 0;
let burst = null;
const bursts = [];
function onFrame() {
  frames++;
  const now = performance.now();
  if (!burst || now - burst.last > 300) {
    burst = { first: now, last: now, n: 0 };
    bursts.push(burst);
  }
  burst.last = now;
  burst.n++;
}

function openStream(userId, token) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gw}/api/queue/stream?userId=${userId}&token=${token}`, { agent: streamAgent }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream ${userId}: ${res.statusCode}`));
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (d) => {
        buf += d;
        let at;
        while ((at = buf.indexOf("\n\n")) >= 0) {
          if (buf.startsWith("data:")) onFrame();
          buf = buf.slice(at + 2);
        }
      });
      resolve({ req, res });
    });
    req.on("error", reject);
  });
}

let nextUser = 1;
async function enqueue(n) {
  const ids = Array.from({ length: n }, () => nextUser++);
  const views = await pool(ids, 64, (u) => post("/api/users/token", { userId: u }));
  return ids.map((u, i) => ({ userId: u, token: views[i].result.token }));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
const maxLevel = Math.max(...levels);
// enough fillers ahead for every tick of the run (plus the time spent opening streams)
const fillersNeeded = batch * (levels.length * (ticksPerLevel + 3) + Math.ceil(maxLevel / 500) + 60);
console.error(`queueing ${fillersNeeded} fillers...`);
await enqueue(fillersNeeded);

// idle cost: ticks with no streams
{
  await sleep(1500);
  const g0 = cpuSeconds(gateway.pid);
  const r0 = cpuSeconds(redisPid);
  await sleep(ticksPerLevel * tickMs);
  results.push({
    streams: 0,
    gwCpuMsPerTick: ((cpuSeconds(gateway.pid) - g0) * 1000) / ticksPerLevel,
    redisCpuMsPerTick: ((cpuSeconds(redisPid) - r0) * 1000) / ticksPerLevel,
    rssMb: rssMb(gateway.pid),
    spreadMs: 0,
    framesPerTick: 0,
  });
}

for (const level of levels) {
  const add = level - streams.length;
  console.error(`opening ${add} more streams (total ${level})...`);
  const users = await enqueue(add);
  const opened = await pool(users, 200, (u) => openStream(u.userId, u.token));
  streams.push(...opened);
  await sleep(2 * tickMs); // settle: the first frames of the new streams
  const f0 = frames;
  const b0 = bursts.length;
  const g0 = cpuSeconds(gateway.pid);
  const r0 = cpuSeconds(redisPid);
  await sleep(ticksPerLevel * tickMs);
  const gwCpu = cpuSeconds(gateway.pid) - g0;
  const redisCpu = cpuSeconds(redisPid) - r0;
  const seen = bursts.slice(b0).filter((b) => b.n > level / 2);
  const spreads = seen.map((b) => b.last - b.first).sort((a, b) => a - b);
  const row = {
    streams: level,
    gwCpuMsPerTick: (gwCpu * 1000) / ticksPerLevel,
    redisCpuMsPerTick: (redisCpu * 1000) / ticksPerLevel,
    rssMb: rssMb(gateway.pid),
    spreadMs: spreads.length ? spreads[Math.floor(spreads.length / 2)] : NaN,
    framesPerTick: (frames - f0) / ticksPerLevel,
  };
  results.push(row);
  console.error(JSON.stringify(row));
}

console.log(`\nSSE fan-out, one gateway instance, tick ${tickMs} ms, ${batch} admitted per tick (every stream's rank changes each tick)`);
console.log("streams | gateway CPU ms/tick | µs per stream | Redis CPU ms/tick | gateway RSS MB | frames/tick | first→last frame (median)");
for (const r of results) {
  const per = r.streams ? ((r.gwCpuMsPerTick * 1000) / r.streams).toFixed(1) : "–";
  console.log(
    `${String(r.streams).padStart(7)} | ${r.gwCpuMsPerTick.toFixed(1).padStart(19)} | ${per.padStart(13)} | ${r.redisCpuMsPerTick.toFixed(1).padStart(17)} | ${r.rssMb.toFixed(0).padStart(14)} | ${r.framesPerTick.toFixed(0).padStart(11)} | ${Number.isNaN(r.spreadMs) ? "–" : r.spreadMs.toFixed(0) + " ms"}`,
  );
}

for (const s of streams) s.req.destroy();
await gateway.stop();
await redis.quit();
agent.destroy();
process.exit(0);
