// The real apps for the browser test: a fresh Postgres database (migrated with
// scripts/migrate.mjs, seeded with apps/booking/dist/db/seed.js), then `node apps/booking/dist/main.js`
// and `node apps/gateway/dist/main.js`, configured by environment only, on spare ports.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, sleep } from "@concert/test-support";
import { Client } from "pg";
// the built module (this package runs the built apps, and has no dependency on @concert/shared)
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from "@concert/shared";

export const ROOT = join(__dirname, "../../../..");

function run(args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`node ${args.join(" ").slice(0, 80)} failed: ${stderr || err.message}`)) : resolve(stdout),
    ),
  );
}

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = "/postgres";
  return u.toString();
}

export interface TestDatabase {
  url: string;
  /** the seeded performances of concert 1, soonest first */
  concertDetailIds: number[];
  drop(): Promise<void>;
}

/** A database of its own, migrated and seeded like `pnpm db:migrate && pnpm db:seed` would. */
export async function createDatabase(): Promise<TestDatabase> {
  const base = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const name = `browser_test_${process.pid}_${Date.now()}`;
  const admin = new Client({ connectionString: adminUrl(base) });
  await admin.connect().catch((err: Error) => {
    throw new Error(
      `Cannot reach Postgres at ${adminUrl(base)} (${err.message}). Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  const url = u.toString();

  await run(["scripts/migrate.mjs"], { DATABASE_URL: url });
  const seeded = await run(
    [
      "-e",
      `const { createDb } = require("./apps/booking/dist/db/client.js");
       const { seed } = require("./apps/booking/dist/db/seed.js");
       const db = createDb(process.env.DATABASE_URL, { poolSize: 1 });
       seed(db).then((r) => { process.stdout.write(JSON.stringify(r)); return db.$disconnect(); });`,
    ],
    { DATABASE_URL: url },
  );
  const { concertDetailIds } = JSON.parse(seeded) as { concertDetailIds: number[] };
  return {
    url,
    concertDetailIds,
    async drop() {
      if (process.env.KEEP_TEST_DB === "1") return;
      const c = new Client({ connectionString: adminUrl(base) });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

/** One app process; its output is kept for failure messages and written to test-artifacts/. */
export class AppProcess {
  private child: ChildProcess | null = null;
  private output = "";
  port = 0;

  constructor(
    readonly app: "gateway" | "booking",
    private readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const main = join(ROOT, "apps", this.app, "dist", "main.js");
    if (!existsSync(main)) throw new Error(`${main} is missing: run pnpm build first`);
    this.port = await freePort();
    const child = spawn(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", NODE_ENV: "test", LOG_LEVEL: "warn", ...this.env, PORT: String(this.port), HOST: "127.0.0.1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${this.app} exited ${child.exitCode} at start:\n${this.output}`);
      try {
        if ((await fetch(`${this.url}/health`)).ok) return this;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${this.app} did not answer /health within 20 s:\n${this.output}`);
      await sleep(50);
    }
  }

  async stop(logFile?: string): Promise<void> {
    const child = this.child;
    if (logFile) writeFileSync(logFile, this.output);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const exited = once(child, "exit");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** JSON over HTTP to the gateway, as another client (not the browser) would call it. */
export async function http(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Where the browser tests put screenshots and the apps' logs. */
export const ARTIFACTS = join(ROOT, "test-artifacts", "browser");

export interface Stack {
  db: TestDatabase;
  booking: AppProcess;
  gateway: AppProcess;
  /** stops the apps (their logs go to ARTIFACTS as `<logPrefix>gateway.log`, …) and drops the database */
  stop(): Promise<void>;
}

/** A fresh database, then booking and the gateway in front of it, on one queue; each app's own settings on top. */
export async function startStack(
  queueName: string,
  env: { booking?: Record<string, string>; gateway?: Record<string, string> },
  logPrefix = "",
): Promise<Stack> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const db = await createDatabase();
  const common = { QUEUE_NAME: queueName, REDIS_URL: process.env.REDIS_URL ?? DEFAULT_REDIS_URL };
  const booking = await new AppProcess("booking", { ...common, DATABASE_URL: db.url, DATABASE_POOL_SIZE: "4", ...env.booking }).start();
  const gateway = await new AppProcess("gateway", { ...common, BOOKING_URL: booking.url, ...env.gateway }).start();
  return {
    db,
    booking,
    gateway,
    async stop() {
      await gateway.stop(join(ARTIFACTS, `${logPrefix}gateway.log`));
      await booking.stop(join(ARTIFACTS, `${logPrefix}booking.log`));
      await db.drop();
    },
  };
}
