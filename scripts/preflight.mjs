// Checks that Redis and Postgres answer before `pnpm start` migrates and starts the apps.
// One clear line per missing dependency, naming the URL and how to start it; no stack trace.
import { createRequire } from "node:module";
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from "../packages/shared/dist/defaults.js";

const require = createRequire(import.meta.url);
const Redis = require("ioredis");
const { Client } = require("pg");

const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const redact = (u) => u.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");

const problems = [];
const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
redis.on("error", () => {});
try {
  await redis.connect();
  await redis.ping();
} catch {
  problems.push(
    `Cannot reach Redis at ${redact(redisUrl)} (REDIS_URL). Start one with:\n    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`,
  );
} finally {
  redis.disconnect();
}

const pg = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
pg.on("error", () => {});
try {
  await pg.connect();
  await pg.query("select 1");
} catch (err) {
  problems.push(
    `Cannot reach Postgres at ${redact(databaseUrl)} (DATABASE_URL): ${err.message}. Start it with:\n    pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
  );
} finally {
  await pg.end().catch(() => {});
}

if (problems.length) {
  for (const p of problems) console.error(`start: ${p}`);
  process.exit(1);
}
