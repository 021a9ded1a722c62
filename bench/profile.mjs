// `node bench/profile.mjs <what> [seconds]`: runs one hot path under `node --cpu-prof` (own
// redis-server, a throwaway database for booking), then prints self time by package and the top
// functions. <what> is <side>-<route>: side gateway or booking (the process profiled; the other
// runs unprofiled), route poll, issue, charge, balance, seats, dates, hold (distinct free seats,
// 1,000 admitted users), taken (holds of one seat: the first wins, every other is refused 409). The .cpuprofile files stay
// in bench/out/profiles/.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { DEFAULT_DATABASE_URL } from "../packages/shared/dist/defaults.js";
import { freePort, httpClient, load, runNode, startProcess, startRedisServer } from "./lib.mjs";

const require = createRequire(import.meta.url);
const pg = require("pg");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const what = process.argv[2] ?? "gateway-poll";
const [side, route] = what.split("-");
const needsBooking = !["poll", "issue"].includes(route);
const seconds = Number(process.argv[3] ?? 8);
const dir = join(root, "bench/out/profiles", what);
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const base = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;

const redis = await startRedisServer();
const common = {
  NODE_ENV: "development",
  LOG_LEVEL: "info",
  REDIS_URL: redis.url,
  QUEUE_NAME: "prof",
  TOKEN_RATE_LIMIT: "1000000",
  TOKEN_RATE_WINDOW_SEC: "1",
  HOLD_RATE_LIMIT: "1000000",
  HOLD_RATE_WINDOW_SEC: "1",
  MAX_HOLDS_PER_CLIENT: "10000",
  ADMISSION_ENABLED: "false",
};
const prof = ["--cpu-prof", `--cpu-prof-dir=${dir}`];
const procs = [];
let admin;
let dbName;
try {
  let bookingUrl = "http://127.0.0.1:1";
  if (needsBooking) {
    admin = new pg.Client({ connectionString: base.replace(/\/[^/]*$/, "/postgres") });
    await admin.connect();
    dbName = `bench_prof_${process.pid}`;
    await admin.query(`CREATE DATABASE "${dbName}"`);
    const url = base.replace(/\/[^/]*$/, `/${dbName}`);
    await runNode(
      ["--experimental-wasm-modules", "--no-warnings"],
      `const m = await import("file://${join(root, "scripts/migrate.mjs")}"); await m.applyMigrations({ url: "${url}" });`,
    );
    const port = await freePort();
    procs.push(
      await startProcess(
        "booking",
        [...(side === "booking" ? prof : []), join(root, "apps/booking/dist/main.js")],
        { ...common, PORT: port, DATABASE_URL: url },
        `http://127.0.0.1:${port}/ready`,
      ),
    );
    bookingUrl = `http://127.0.0.1:${port}`;
  }
  const port = await freePort();
  const gwArgs = side === "gateway" ? [...prof] : [];
  procs.push(
    await startProcess(
      "gateway",
      [...gwArgs, join(root, "apps/gateway/dist/main.js")],
      { ...common, PORT: port, HOST: "127.0.0.1", BOOKING_URL: bookingUrl },
      `http://127.0.0.1:${port}/ready`,
    ),
  );
  const client = httpClient(`http://127.0.0.1:${port}`, { maxSockets: 50 });
  const issued = (await client.request("POST", "/api/users/token", { body: { userId: 1 } })).json.result.token;
  let n = 10;
  // hold: 1,000 more users with tokens, each holding distinct free seats of 80 dates
  const holders = [];
  if (needsBooking) {
    // user 1 admitted (one tick, straight on the queue store), concert 1 with two dates
    const Redis = require("ioredis");
    const { QueueStore } = require(join(root, "packages/shared"));
    const r = new Redis(redis.url);
    const store = new QueueStore(r, { name: "prof", activeTtlSec: 600, idleTtlSec: 600, paymentReplaySec: 60 });
    if (route === "hold" || route === "taken")
      for (let u = 2; u <= 1001; u++) holders.push({ userId: u, token: (await store.issue(u)).token });
    await store.tick({ tickMs: 10, batch: 2000, maxActive: 2000 });
    r.disconnect();
    const db = new pg.Client({ connectionString: base.replace(/\/[^/]*$/, `/${dbName}`) });
    await db.connect();
    await db.query(`INSERT INTO concert (id, name) VALUES (1, 'Profile')`);
    await db.query(
      `INSERT INTO concert_detail (concert_id, starts_at, seat_price) SELECT 1, now() + g * interval '7 days', 50000 FROM generate_series(1, $1::int) g`,
      [route === "hold" ? 82 : 2],
    );
    await db.query(`INSERT INTO seat (concert_detail_id, seat_no) SELECT d.id, s FROM concert_detail d, generate_series(1, 50) s`);
    await db.end();
  }
  const next = {
    poll: () => ({ path: "/api/users/1/token", headers: { token: issued } }),
    issue: () => ({ method: "POST", path: "/api/users/token", body: { userId: n++ } }),
    charge: () => ({ method: "PATCH", path: "/api/users/point", body: { userId: n++, point: 100 } }),
    balance: () => ({ path: "/api/users/1/point" }),
    seats: () => ({ path: "/api/concert/1/seat", headers: { token: issued } }),
    dates: () => ({ path: "/api/concert/1/date", headers: { token: issued } }),
    // the k-th hold: user k mod 1,000, seat k of dates 3.. (each user holds at most 4 seats)
    hold: () => {
      const k = n++ - 10;
      const { userId, token } = holders[k % holders.length];
      const body = { userId, concertDetailId: 3 + Math.floor(k / 50), seatId: 1 + (k % 50) };
      return { method: "POST", path: "/api/reservations", headers: { token }, body };
    },
    taken: () => {
      const { userId, token } = holders[n++ % holders.length];
      return { method: "POST", path: "/api/reservations", headers: { token }, body: { userId, concertDetailId: 1, seatId: 7 } };
    },
  }[route];
  const r = await load({ client, concurrency: 50, durationMs: seconds * 1000, next, pids: procs.map((p) => p.pid) });
  console.log(
    `${what}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, CPU ${r.cpuUsPerReq.toFixed(0)} µs/req, statuses ${JSON.stringify(r.statuses)}`,
  );
  client.close();
} finally {
  for (const p of procs) await p.stop();
  await redis.stop();
  if (admin) {
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
}

for (const f of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
  const p = JSON.parse(readFileSync(join(dir, f), "utf8"));
  const total = p.endTime - p.startTime;
  const us = (p.endTime - p.startTime) / Math.max(1, p.samples.length);
  const byPkg = {};
  const byFn = {};
  const pkgOf = (url) => {
    if (!url) return "(v8/native)";
    const m =
      /node_modules\/\.pnpm\/([^/]+?)@[^/]*\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url) ??
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (m) return m[2] ?? m[1];
    if (url.startsWith("node:")) return "node core";
    if (url.includes("/packages/shared/")) return "@concert/shared";
    if (url.includes("/apps/")) return url.replace(/.*\/apps\/([^/]+)\/.*/, "apps/$1");
    return url;
  };
  for (const node of p.nodes) {
    const cf = node.callFrame;
    const t = (node.hitCount ?? 0) * us;
    if (cf.functionName === "(idle)") continue;
    const pkg = ["(garbage collector)", "(program)"].includes(cf.functionName) ? cf.functionName : pkgOf(cf.url);
    byPkg[pkg] = (byPkg[pkg] ?? 0) + t;
    const key = `${cf.functionName || "(anonymous)"} ${pkg}:${cf.lineNumber + 1}`;
    byFn[key] = (byFn[key] ?? 0) + t;
  }
  const busy = Object.values(byPkg).reduce((a, b) => a + b, 0);
  console.log(`\n${f}: busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s`);
  for (const [k, v] of Object.entries(byPkg)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 14))
    console.log(`  ${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  console.log("  top functions (self):");
  for (const [k, v] of Object.entries(byFn)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12))
    console.log(`  ${((v / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
}
