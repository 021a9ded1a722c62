import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "@concert/test-support";
import Redis, { Cluster } from "ioredis";
import type { Pool } from "pg";
import { closeClients } from "./client";
import { BASE_DATABASE_URL, createDatabase, databaseUrl, seedConcert } from "./database";
import { checkInvariants, type InvariantReport } from "./invariants";
import { AppProcess } from "./processes";
import { TcpProxy } from "./proxy";
import { startRedisServer, type RedisServer } from "./redis-server";

export interface SystemOptions {
  tag: string;
  bookings?: number;
  gateways?: number;
  gatewayEnv?: Record<string, string>;
  bookingEnv?: Record<string, string>;
  /** use this Redis (e.g. a cluster URL) instead of a dedicated redis-server behind the proxy */
  redisUrl?: string;
  /** with `redisUrl`: the direct client for checks, when the URL is not one ioredis parses (sentinels) */
  redisClient?: () => Redis;
  /** more redis-server arguments for the dedicated server (e.g. AOF); it then gets a directory of its own */
  redisArgs?: string[];
}

/**
 * The system under test: N booking and M gateway processes (`node apps/<app>/dist/main.js`,
 * configured by environment only) on a fresh database and a dedicated redis-server, with a TCP
 * proxy in front of each of Postgres and Redis so that a scenario can cut, slow or restore them.
 */
export class System {
  readonly secret = randomBytes(24).toString("hex");
  readonly metricsToken = randomBytes(16).toString("hex");
  readonly queueName: string;
  bookings: AppProcess[] = [];
  gateways: AppProcess[] = [];
  db!: { name: string; url: string; pool: Pool; drop(): Promise<void> };
  redisServer: RedisServer | null = null;
  redisProxy: TcpProxy | null = null;
  pgProxy!: TcpProxy;
  /** a direct client (not through the proxy) for checks */
  redis!: Redis | Cluster;
  redisUrl!: string;
  private redisDir: string | undefined;
  private nextUser = 0;
  private nextConcert = 100;

  constructor(readonly options: SystemOptions) {
    this.queueName = `sys_${options.tag}_${randomBytes(3).toString("hex")}`;
  }

  get bookingPrefix(): string {
    return `booking:${this.queueName}`;
  }

  async start(): Promise<this> {
    this.db = await createDatabase(this.options.tag);
    const pgTarget = new URL(BASE_DATABASE_URL);
    this.pgProxy = await new TcpProxy(Number(pgTarget.port || 5432), pgTarget.hostname || "127.0.0.1").start();
    if (this.options.redisUrl) {
      this.redisUrl = this.options.redisUrl;
      this.redis = this.options.redisClient
        ? this.options.redisClient()
        : this.options.redisUrl.includes("+cluster://")
          ? new Cluster(
              this.options.redisUrl
                .replace(/^.*:\/\//, "")
                .split(",")
                .map((h) => ({ host: h.split(":")[0], port: Number(h.split(":")[1]) })),
            )
          : new Redis(this.options.redisUrl);
    } else {
      this.redisDir = this.options.redisArgs ? mkdtempSync(join(tmpdir(), `sys-redis-${this.options.tag}-`)) : undefined;
      this.redisServer = await startRedisServer({ extraArgs: this.options.redisArgs, dir: this.redisDir });
      this.redisProxy = await new TcpProxy(this.redisServer.port).start();
      this.redisUrl = `redis://127.0.0.1:${this.redisProxy.port}`;
      this.redis = new Redis(this.redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
    }
    this.redis.on("error", () => {});
    for (let i = 0; i < (this.options.bookings ?? 2); i++) this.bookings.push(this.bookingProcess(`booking-${i + 1}`));
    await Promise.all(this.bookings.map((b) => b.start()));
    for (let i = 0; i < (this.options.gateways ?? 2); i++) this.gateways.push(this.gatewayProcess(`gateway-${i + 1}`));
    await Promise.all(this.gateways.map((g) => g.start()));
    return this;
  }

  commonEnv(): Record<string, string> {
    return {
      NODE_ENV: "production",
      PASSPORT_SECRET: this.secret,
      METRICS_TOKEN: this.metricsToken,
      QUEUE_NAME: this.queueName,
      REDIS_URL: this.redisUrl,
      LOG_LEVEL: process.env.SYSTEM_LOG_LEVEL ?? "warn",
    };
  }

  bookingProcess(name: string, env: Record<string, string> = {}): AppProcess {
    return new AppProcess("booking", name, {
      ...this.commonEnv(),
      DATABASE_URL: databaseUrl(this.db.name, this.pgProxy.port),
      DATABASE_POOL_SIZE: "10",
      ...this.options.bookingEnv,
      ...env,
    });
  }

  gatewayProcess(name: string, env: Record<string, string> = {}): AppProcess {
    return new AppProcess("gateway", name, {
      ...this.commonEnv(),
      BOOKING_URL: this.bookings.map((b) => b.url).join(","),
      AUTH_MODE: "none",
      BOOKING_TIMEOUT_MS: "10000",
      QUEUE_TICK_MS: "200",
      QUEUE_ADMIT_BATCH: "100",
      QUEUE_MAX_ACTIVE: "5000",
      ACTIVE_TOKEN_TTL_SEC: "600",
      TOKEN_RATE_LIMIT: "1000000",
      // every scenario's clients share one address; hardening-holds.test.ts sets real caps
      HOLD_RATE_LIMIT: "1000000",
      MAX_HOLDS_PER_CLIENT: "10000",
      ...this.options.gatewayEnv,
      ...env,
    });
  }

  /** Starts one more gateway (its own env on top of the defaults), e.g. on another queue. */
  async addGateway(name: string, env: Record<string, string> = {}): Promise<AppProcess> {
    const g = this.gatewayProcess(name, env);
    this.gateways.push(g);
    return g.start();
  }

  /** Fresh user ids for a scenario. */
  userIds(n: number): number[] {
    const start = this.nextUser + 1;
    this.nextUser += n;
    return Array.from({ length: n }, (_, i) => start + i);
  }

  /** A fresh concert with `performances` performances of 50 seats; returns the performance ids. */
  async concert(performances: number, seatPrice = 50_000): Promise<{ concertId: number; detailIds: number[] }> {
    const concertId = ++this.nextConcert;
    return { concertId, detailIds: await seedConcert(this.db.pool, concertId, performances, seatPrice) };
  }

  async invariants(): Promise<InvariantReport> {
    return checkInvariants(this.db.pool, this.redis, this.bookingPrefix);
  }

  /** Waits until every live app answers /ready; returns the ms it took. */
  async waitReady(timeoutMs = 10_000, apps = [...this.bookings, ...this.gateways].filter((a) => a.alive)): Promise<number> {
    const started = Date.now();
    await Promise.all(
      apps.map(async (a) => {
        for (;;) {
          try {
            const res = await fetch(`${a.url}/ready`);
            await res.arrayBuffer();
            if (res.ok) return;
          } catch {
            /* down */
          }
          if (Date.now() - started > timeoutMs) throw new Error(`${a.name} not ready after ${timeoutMs} ms:\n${a.output()}`);
          await sleep(50);
        }
      }),
    );
    return Date.now() - started;
  }

  /** error-level log lines of every app so far (and forgets them) */
  takeErrors(): string[] {
    const all = [...this.gateways, ...this.bookings].flatMap((a) => a.errors.map((l) => `${a.name}: ${l}`));
    for (const a of [...this.gateways, ...this.bookings]) a.errors = [];
    return all;
  }

  async stop(): Promise<void> {
    await closeClients();
    await Promise.all([...this.gateways, ...this.bookings].map((a) => a.stop()));
    this.redis?.disconnect();
    await this.redisProxy?.close();
    await this.redisServer?.kill();
    if (this.redisDir) rmSync(this.redisDir, { recursive: true, force: true });
    await this.pgProxy?.close();
    await this.db?.drop();
  }
}

export async function startSystem(options: SystemOptions): Promise<System> {
  const s = new System(options);
  try {
    return await s.start();
  } catch (err) {
    await s.stop().catch(() => {});
    throw err;
  }
}

/** One summary line per scenario, printed and kept in test-artifacts/system-summary.txt. */
export function report(line: string): void {
  const text = `[system] ${line}\n`;
  process.stdout.write(text);
  try {
    const dir = join(__dirname, "../../../../test-artifacts");
    mkdirSync(dir, { recursive: true });
    appendFileSync(join(dir, "system-summary.txt"), `${new Date().toISOString()} ${text}`);
  } catch {
    /* best effort */
  }
}

export function invariantText(r: InvariantReport): string {
  return `invariants ${r.checks} checks ${r.violations.length ? `VIOLATED: ${r.violations.join("; ")}` : "ok"} (confirmed ${r.figures.confirmed}, payments ${r.figures.payments}, held ${r.figures.held}, refunds ${r.figures.refunds})`;
}
