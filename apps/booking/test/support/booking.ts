import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { httpCall, signPassportFor, toHeaders, type PassportClaims } from "@concert/test-support";
import {
  DEFAULT_REDIS_URL,
  DEV_PASSPORT_SECRET,
  PASSPORT_HEADER,
  QueueStore,
  connectRedis,
  createLogger,
  createRedis,
  seatGateKeys,
  type Logger,
} from "@concert/shared";
import type { Redis } from "ioredis";
import { createApp, type BookingApp, type BookingAppConfig } from "../../src/app";
import { createDb, type Db } from "../../src/db/client";
import { seed } from "../../src/db/seed";

export const SECRET = DEV_PASSPORT_SECRET;
const RUN = process.env.BOOKING_TEST_DATABASE_NAME ?? "booking_test_local";
const WORKER = Number(process.env.JEST_WORKER_ID ?? 1);

export function testDatabaseUrl(): string {
  const url = process.env.BOOKING_TEST_DATABASE_URL;
  if (!url) throw new Error("BOOKING_TEST_DATABASE_URL is unset: run through jest (globalSetup creates the database)");
  return url;
}

/**
 * Ids unique across the test files of one run: each file takes a block of 1,000,000 ids from a
 * sequence that globalSetup created in the test database. A file that uses nextId() calls
 * reserveIdBlock() once at its top, before hooks of its own that may take ids.
 */
let base = 0;
let counter = 0;
export function reserveIdBlock(): void {
  beforeAll(async () => {
    const { Client } = await import("pg");
    const client = new Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    const { rows } = await client.query<{ block: string }>("SELECT nextval('test_id_block') AS block");
    await client.end();
    base = Number(rows[0].block) * 1_000_000;
  });
}
export function nextId(): number {
  if (!base) throw new Error("nextId() before the id block was allocated: call reserveIdBlock() at the top of the file");
  if (++counter >= 1_000_000) throw new Error("id block exhausted");
  return base + counter;
}

/**
 * The clock every instance of a test file decides holds on: real time, plus however far a test
 * moved it forward (instead of sleeping until a hold expires).
 */
export const clock = {
  offsetMs: 0,
  now: (): Date => new Date(Date.now() + clock.offsetMs),
  advance(ms: number): void {
    clock.offsetMs += ms;
  },
};

export interface Booking {
  app: BookingApp;
  url: string;
  db: Db;
  redis: Redis;
  queueStore: QueueStore;
  config: BookingAppConfig;
  close(): Promise<void>;
}

export interface BookingOptions extends Partial<BookingAppConfig> {
  /** share a database client / Redis client / queue between instances, or make new ones */
  db?: Db;
  redis?: Redis;
  queueName?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** do not wait for Redis (tests of a Redis that is down) */
  noConnect?: boolean;
  /** the app's logger (default: silent) */
  logger?: Logger;
}

/** A booking instance on port 0 with its own (or given) Postgres and Redis clients. */
export async function startBooking(options: BookingOptions = {}): Promise<Booking> {
  const db = options.db ?? createDb(options.databaseUrl ?? testDatabaseUrl(), { poolSize: 10 });
  const redisUrl = options.redisUrl ?? DEFAULT_REDIS_URL;
  const redis = options.redis ?? (createRedis(redisUrl) as Redis);
  if (!options.redis && !options.noConnect) await connectRedis(redis, redisUrl);
  const queueStore = new QueueStore(redis, {
    name: options.queueName ?? `t${WORKER}_${RUN.slice(-13)}`,
    activeTtlSec: 60,
    idleTtlSec: 60,
    paymentReplaySec: 60,
  });
  const config: BookingAppConfig = {
    passportSecret: SECRET,
    seatHoldTtlSec: 300,
    maxHoldsPerUser: 4,
    maxChargePoint: 1_000_000,
    cancelDeadlineSec: 86_400,
    redisKeyPrefix: `booking:test:${RUN}`,
    ...options,
  };
  const app = createApp({
    db,
    redis,
    queueStore,
    logger: options.logger ?? createLogger("booking-test", "silent"),
    config,
    clock: clock.now,
  });
  const server: Server = await new Promise((resolve) => {
    // as main.ts serves it: the hot /api routes first, then Express
    const s = createServer(app.listener).listen(0, "127.0.0.1", () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    db,
    redis,
    queueStore,
    config,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      if (!options.db) await db.$disconnect();
      if (!options.redis) redis.disconnect();
    },
  };
}

/** What a test's passport vouches for; call() signs it for the exact request it sends, as the gateway does. */
export interface TestPassport {
  claims: PassportClaims;
  secret: string;
}

export function passport(claims: PassportClaims, secret = SECRET): TestPassport {
  return { claims, secret };
}

export interface Reply<T = any> {
  status: number;
  body: { result: T | null; error: { code: string; message: string; details?: Record<string, unknown> } | null };
  headers: Headers;
}

/** The user a request names (body `userId`, else a `/users/<id>/` path); user 1 when it names none. */
function namedUser(path: string, body: unknown): number {
  const inBody = body && typeof body === "object" && "userId" in body ? body.userId : undefined;
  if (typeof inBody === "number") return inBody;
  const inPath = /\/users\/(\d+)\//.exec(path)?.[1];
  return inPath ? Number(inPath) : 1;
}

/**
 * One HTTP call with the envelope parsed. `auth` is a passport for this request (by default one
 * for the user the request names, as the gateway sends), a header value as it is, or false for none.
 */
export async function call<T = any>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; auth?: TestPassport | string | false; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  const { body, auth = passport({ userId: namedUser(path, body) }) } = options;
  if (auth !== false)
    headers[PASSPORT_HEADER] = typeof auth === "string" ? auth : signPassportFor(auth.secret, { method, path, body }, auth.claims);
  if (body !== undefined) headers["content-type"] ??= "application/json";
  // a string body is sent as it is (malformed JSON on purpose)
  const r = await httpCall(base, method, path, { ...(typeof body === "string" ? { raw: body } : { body }), headers, asFetch: true });
  return { status: r.status, body: r.body as Reply<T>["body"], headers: toHeaders(r.headers) };
}

/** A fresh concert with `performances` future performances of 50 seats each (its own ids). */
export async function newConcert(db: Db, options: { performances?: number; seatPrice?: number } = {}) {
  const concertId = nextId();
  const r = await seed(db, {
    concertId,
    concertName: `Concert ${concertId}`,
    performances: options.performances ?? 1,
    seatPrice: options.seatPrice ?? 50_000,
  });
  return { concertId, detailIds: r.concertDetailIds };
}

export { sleep, until } from "@concert/test-support";

/** Rows and sums of these users and performances, which must not move when a request is refused. */
export async function snapshot(db: Db, scope: { userIds?: number[]; detailIds?: number[] }) {
  const users = scope.userIds ?? [];
  const details = scope.detailIds ?? [];
  const [r] = await db.$queryRaw<any[]>`
    SELECT (SELECT count(*)::int FROM reservation WHERE user_id = ANY(${users}::int[]) OR concert_detail_id = ANY(${details}::int[])) AS reservations,
           (SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM reservation WHERE user_id = ANY(${users}::int[]) OR concert_detail_id = ANY(${details}::int[])) AS statuses,
           (SELECT count(*)::int FROM payment WHERE user_id = ANY(${users}::int[])) AS payments,
           (SELECT count(*)::int FROM point_ledger WHERE user_id = ANY(${users}::int[])) AS ledger,
           (SELECT string_agg(id || ':' || point, ',' ORDER BY id) FROM users WHERE id = ANY(${users}::int[])) AS balances,
           (SELECT string_agg(id || ':' || status || ':' || coalesce(reservation_id, 0), ',' ORDER BY id) FROM seat WHERE concert_detail_id = ANY(${details}::int[]) AND status <> 'FREE') AS seats`;
  return r;
}

/** A hold of `seatId` by a user of its own (a fresh id), through `inst` with a passport for that user. */
export function holdAsNewUser(inst: Booking, concertDetailId: number, seatId: number) {
  const userId = nextId();
  return call(inst.url, "POST", "/api/reservations", { auth: passport({ userId }), body: { concertDetailId, userId, seatId } });
}

/** The Redis seat gate key of a seat on this instance's prefix (the shared layout). */
export const gateKey = (inst: Booking, concertDetailId: number, seatNo: number) =>
  seatGateKeys(inst.config.redisKeyPrefix).seat(concertDetailId, seatNo);
