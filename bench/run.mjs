// `pnpm bench [--quick]`: every scenario of the benchmark in one process, against processes it
// starts itself on loopback: its own redis-server (spare port, flushed freely, memory measured
// cleanly), a fresh Postgres database (migrated + seeded, dropped at the end), and built apps
// (`node apps/<app>/dist/main.js`). Prints a markdown table; the full run also writes
// docs/BENCHMARKS.md and docs/rank-poll-latency.svg (--quick writes to bench/out/ instead).
//
//   --quick           smaller sizes and durations, every scenario kept (< 2 minutes)
//   --only=1,2        run only these scenarios (development)
//   --out=DIR         where to write the report (default docs/, or bench/out/ with --quick)
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import { DEFAULT_DATABASE_URL } from "../packages/shared/dist/defaults.js";
import { freePort, machineInfo, runNode, startProcess, startRedisServer } from "./lib.mjs";
import { renderMarkdown, renderTable, renderSvg } from "./report.mjs";

const require = createRequire(import.meta.url);
const Redis = require("ioredis");
const pg = require("pg");
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",")
  .map(Number);
const outDir = args.find((a) => a.startsWith("--out="))?.slice(6) ?? (quick ? join(root, "bench/out") : join(root, "docs"));
const baseDbUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const started = Date.now();
const log = (...m) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...m);

const cleanups = [];
let cleaning = false;
async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error("cleanup:", err.message);
    }
  }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    cleanup().finally(() => process.exit(130));
  });
}

const shared = require(join(root, "packages/shared"));

async function main() {
  // --- Redis of our own -------------------------------------------------------------------------
  const redisServer = await startRedisServer();
  cleanups.push(() => redisServer.stop());
  const redis = new Redis(redisServer.url);
  cleanups.push(() => redis.quit());
  const redisVersion = /redis_version:(\S+)/.exec(await redis.info("server"))[1];
  log(`redis-server ${redisVersion} on :${redisServer.port} (pid ${redisServer.pid})`);

  // --- a fresh database --------------------------------------------------------------------------
  const dbName = `bench_${process.pid}_${Date.now()}`;
  const adminUrl = new URL(baseDbUrl);
  adminUrl.pathname = "/postgres";
  const admin = new pg.Client({ connectionString: adminUrl.toString() });
  await admin.connect();
  const postgresVersion = (await admin.query("SHOW server_version")).rows[0].server_version;
  await admin.query(`CREATE DATABASE "${dbName}"`);
  cleanups.push(async () => {
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}"`);
    await admin.end();
    log(`dropped database ${dbName}`);
  });
  const dbUrlObj = new URL(baseDbUrl);
  dbUrlObj.pathname = `/${dbName}`;
  const dbUrl = dbUrlObj.toString();
  const migrate = join(root, "scripts/migrate.mjs");
  await runNode(
    ["--experimental-wasm-modules", "--no-warnings"],
    `const m = await import(${JSON.stringify("file://" + migrate)}); await m.applyMigrations({ url: process.env.BENCH_DB_URL });`,
    { BENCH_DB_URL: dbUrl },
  );
  const db = new pg.Pool({ connectionString: dbUrl, max: 4 });
  cleanups.push(() => db.end());
  log(`database ${dbName} migrated (Postgres ${postgresVersion})`);

  // --- process helpers -------------------------------------------------------------------------
  const procs = new Set();
  cleanups.push(async () => {
    await Promise.all([...procs].map((p) => p.stop()));
  });
  async function start(name, script, env, readyPath = "/health") {
    const port = await freePort();
    // BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles every app process of the run
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const p = await startProcess(
      name,
      [...nodeArgs, join(root, script)],
      { PORT: String(port), ...env },
      `http://127.0.0.1:${port}${readyPath}`,
    );
    p.port = port;
    p.url = `http://127.0.0.1:${port}`;
    const stop = p.stop;
    p.stop = async () => {
      procs.delete(p);
      await stop();
    };
    procs.add(p);
    return p;
  }
  const BENCH_RATE_LIMIT = {
    TOKEN_RATE_LIMIT: "1000000",
    TOKEN_RATE_WINDOW_SEC: "1",
    HOLD_RATE_LIMIT: "1000000",
    HOLD_RATE_WINDOW_SEC: "1",
    MAX_HOLDS_PER_CLIENT: "10000",
  };
  const common = { NODE_ENV: "development", LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info", REDIS_URL: redisServer.url };
  const ctx = {
    root,
    quick,
    log,
    redis,
    redisServer,
    db,
    dbUrl,
    shared,
    startGateway: (env = {}) =>
      // The token rate limit stays on (its Redis call is part of every issue's cost) but high
      // enough never to refuse the bench's one client address.
      start(
        "gateway",
        "apps/gateway/dist/main.js",
        { ...common, HOST: "127.0.0.1", ...BENCH_RATE_LIMIT, ADMISSION_ENABLED: "false", ...env },
        "/ready",
      ),
    startBooking: (env = {}) => start("booking", "apps/booking/dist/main.js", { ...common, DATABASE_URL: dbUrl, ...env }, "/ready"),
    /** a QueueStore on our Redis (for filling queues and ticking directly) */
    queueStore: (name, opts = {}) => {
      const client = new Redis(redisServer.url);
      cleanups.push(() => client.quit());
      return {
        client,
        store: new shared.QueueStore(client, { name, activeTtlSec: 600, idleTtlSec: 86_400, paymentReplaySec: 300, ...opts }),
      };
    },
    /** a concert (1 unless named) with `performances` more future performances of 50 seats (SQL, database clock) */
    seed: async (performances, seatPrice = 50_000, concertId = 1) => {
      await db.query(`INSERT INTO concert (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [concertId, `Bench Concert ${concertId}`]);
      const { rows } = await db.query(
        `INSERT INTO concert_detail (concert_id, starts_at, seat_price)
         SELECT $3, date_trunc('day', now()) + make_interval(days => 7 * g) + interval '19 hours', $2 FROM generate_series(1, $1) g
         RETURNING id`,
        [performances, seatPrice, concertId],
      );
      const ids = rows.map((r) => r.id);
      await db.query(`INSERT INTO seat (concert_detail_id, seat_no) SELECT d, s FROM unnest($1::int[]) d, generate_series(1, 50) s`, [ids]);
      return ids;
    },
  };

  const scenarios = [
    await import("./scenarios/1-poll-issue.mjs"),
    await import("./scenarios/2-queue-size.mjs"),
    await import("./scenarios/3-admission.mjs"),
    await import("./scenarios/4-seat-contention.mjs"),
    await import("./scenarios/5-end-to-end.mjs"),
    await import("./scenarios/6-points.mjs"),
    await import("./scenarios/7-replica-ack.mjs"),
    await import("./scenarios/8-admitted-routes.mjs"),
    await import("./scenarios/9-rooms.mjs"),
  ];
  const results = [];
  const shared3 = {}; // scenario 2 hands its 1M queue to scenario 3
  for (const s of scenarios) {
    if (only && !only.includes(s.id)) continue;
    log(`scenario ${s.id}: ${s.title}`);
    const t0 = Date.now();
    try {
      const r = await s.run(ctx, shared3);
      r.seconds = (Date.now() - t0) / 1000;
      results.push({ id: s.id, title: s.title, ...r });
    } catch (err) {
      console.error(err);
      results.push({ id: s.id, title: s.title, error: err.message, rows: [], notes: [] });
    }
    await Promise.all([...procs].map((p) => p.stop()));
    log(`scenario ${s.id} done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }

  const machine = machineInfo({ redisVersion, postgresVersion });
  const totalSec = (Date.now() - started) / 1000;
  const table = renderTable(results);
  console.log(`\n${table}\n`);
  for (const r of results) for (const n of r.notes ?? []) console.log(`- ${r.id}: ${n}`);
  mkdirSync(outDir, { recursive: true });
  const chart = results.find((r) => r.chart)?.chart;
  if (chart) writeFileSync(join(outDir, "rank-poll-latency.svg"), renderSvg(chart));
  writeFileSync(join(outDir, "BENCHMARKS.md"), renderMarkdown({ results, machine, quick, totalSec, table, chart: Boolean(chart) }));
  log(`wrote ${join(outDir, "BENCHMARKS.md")}${chart ? " and rank-poll-latency.svg" : ""} (total ${totalSec.toFixed(0)}s)`);
  return results;
}

let code = 0;
try {
  const results = await main();
  if (results.some((r) => r.error)) code = 1;
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
