import { join } from "node:path";
import { DEFAULT_DATABASE_URL, DEFAULT_PORTS, DEFAULT_REDIS_URL, DEV_PASSPORT_SECRET } from "@concert/shared";
import { configRefusal, runEntryPoint } from "@concert/test-support";
import { bookingEnv, loadConfig } from "../src/config";

// Unit tests of booking's config schema: no database, no Redis (the processes started at the end
// exit before they connect to anything).
const base = { NODE_ENV: "test" };

/** The message loadConfig throws for this environment (fails the test when it does not throw). */
const refusal = (env: Record<string, string>) => configRefusal(loadConfig, { ...base, ...env });

/** One value each variable refuses: a new variable needs one here (the first test checks). */
const badValues: Record<keyof typeof bookingEnv.shape, string> = {
  NODE_ENV: "staging",
  REDIS_URL: "127.0.0.1:6379",
  LOG_LEVEL: "loud",
  PASSPORT_SECRET: "short",
  QUEUE_NAME: "a/b",
  PAYMENT_REPLAY_SEC: "86401",
  METRICS_TOKEN: "short",
  METRICS_PORT: "1.5",
  PORT: "-1",
  HOST: "",
  DATABASE_URL: "mysql://127.0.0.1/db",
  DATABASE_POOL_SIZE: "0",
  SEAT_HOLD_TTL_SEC: "3601",
  MAX_HOLDS_PER_USER: "51",
  MAX_CHARGE_POINT: "1e20",
  CANCEL_DEADLINE_SEC: "31536001",
  SWEEP_INTERVAL_MS: "99",
  REDLOCK_URLS: "redis://a:6379,http://b:6379",
  HTTP_HEADERS_TIMEOUT_MS: "99",
  HTTP_REQUEST_TIMEOUT_MS: "600001",
  HTTP_KEEPALIVE_TIMEOUT_MS: "5s",
  HTTP_IDLE_TIMEOUT_MS: "0",
};

/** Runs a built entry point with `env` alone; resolves its exit code and stderr. */
const run = (script: string, env: Record<string, string>) => runEntryPoint(join(__dirname, "..", "dist", script), env);

describe("booking configuration", () => {
  it.each(Object.keys(bookingEnv.shape))("refuses a bad %s at start, naming it", (name) => {
    const bad = badValues[name as keyof typeof badValues];
    expect(bad).toBeDefined();
    expect(refusal({ [name]: bad })).toMatch(new RegExp(`^  ${name}(\\.\\d+)?: `, "m"));
  });

  it("names the bad node of REDLOCK_URLS by its place in the list", () => {
    expect(refusal({ REDLOCK_URLS: "redis://a:6379, redis://b:6379, b:6379" })).toMatch(/^ {2}REDLOCK_URLS\.2: must be a redis:\/\//m);
  });

  it("takes a multi-host URL (sentinels, cluster seeds) as one Redlock node: a comma starts a node only before a scheme", () => {
    const sentinel = "redis+sentinel://:pw@s1:26379,s2:26379,s3:26379/concert";
    expect(loadConfig({ ...base, REDLOCK_URLS: sentinel }).REDLOCK_URLS).toEqual([sentinel]);
    expect(loadConfig({ ...base, REDLOCK_URLS: `redis://a:1, ${sentinel},redis+cluster://c:1,c:2` }).REDLOCK_URLS).toEqual([
      "redis://a:1",
      sentinel,
      "redis+cluster://c:1,c:2",
    ]);
  });

  it("locks on REDIS_URL alone unless REDLOCK_URLS names the nodes", () => {
    expect(loadConfig({ ...base, REDIS_URL: "redis://r:6379" }).REDLOCK_URLS).toEqual(["redis://r:6379"]);
    expect(loadConfig({ ...base, REDLOCK_URLS: "redis://a:1, redis://b:2,redis://c:3" }).REDLOCK_URLS).toEqual([
      "redis://a:1",
      "redis://b:2",
      "redis://c:3",
    ]);
  });

  it("defaults to the shared defaults, and ends with the shared production-secrets step", () => {
    const config = loadConfig(base);
    expect([config.PORT, config.DATABASE_URL, config.REDIS_URL]).toEqual([DEFAULT_PORTS.booking, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL]);
    // only what runs beside booking reaches it unless HOST says otherwise
    expect(config.HOST).toBe("127.0.0.1");
    expect(config.PASSPORT_SECRET).toBe(DEV_PASSPORT_SECRET);
    // the production-secrets step (its cases: packages/shared/test/config.test.ts) is this schema's too
    expect(refusal({ NODE_ENV: "production" }).match(/^ {2}\w+(?=:)/gm)).toEqual(["  PASSPORT_SECRET", "  METRICS_TOKEN"]);
  });

  it("makes main.js and the seed exit 1 naming the variable", async () => {
    const main = await run("main.js", { NODE_ENV: "test", REDLOCK_URLS: "redis://a:6379,http://b:6379" });
    expect([main.code, main.stderr]).toEqual([1, expect.stringContaining("REDLOCK_URLS.1: must be a redis://")]);
    const dev = await run("main.js", { NODE_ENV: "production", PASSPORT_SECRET: DEV_PASSPORT_SECRET });
    expect([dev.code, dev.stderr]).toEqual([1, expect.stringContaining("PASSPORT_SECRET: is the built-in development secret")]);
    const seed = await run("db/seed-main.js", { DATABASE_URL: "mysql://127.0.0.1/db" });
    expect([seed.code, seed.stderr]).toEqual([1, expect.stringContaining("DATABASE_URL: must be a postgresql:// URL")]);
  });
});
