// Checks that Redis and Postgres answer before `pnpm start` migrates and starts the apps.
// One clear line per missing dependency, naming the URL and how to start it; no stack trace.
import { createRequire } from "node:module";
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from "../packages/shared/dist/defaults.js";

const require = createRequire(import.meta.url);
const { connectRedis, createRedis, redactUrl } = require("../packages/shared/dist/redis.js");
const { Client } = require("pg");

const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
const databaseUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const redact = (u) => u.replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");

const problems = [];
// the apps' own client and first connection, so every REDIS_URL form they take (cluster, sentinel)
// is checked as they will check it
const redis = createRedis(redisUrl, { maxRetriesPerRequest: 0, retryStrategy: () => null });
try {
  await connectRedis(redis, redisUrl);
} catch {
  problems.push(
    `Cannot reach Redis at ${redactUrl(redisUrl)} (REDIS_URL). Start one with:\n    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no`,
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
