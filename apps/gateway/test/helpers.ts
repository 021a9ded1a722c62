import { createServer, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import express from "express";
import {
  closedPort,
  httpCall,
  listenLoopback,
  startRedisServer as startTestRedisServer,
  toHeaders,
  type RedisServer,
  type TestClock,
} from "@concert/test-support";
import type { Redis } from "ioredis";
import {
  DEV_PASSPORT_SECRET,
  bodyDigest,
  createLogger,
  seatGateKeys,
  seatGatePrefix,
  verifyPassport,
  type Passport,
  type SeatGateKeys,
} from "@concert/shared";
import { loadConfig } from "../src/config";
import type { HistoryOptions } from "../src/console/history";
import { buildGateway, type Gateway } from "../src/gateway";

export const uniqueName = (tag: string) => `${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

export interface RunningGateway {
  url: string;
  gateway: Gateway;
  close(): Promise<void>;
}

/** The gateway's Redis client and booking's seat-gate keys of its queue: to claim a seat the way booking does. */
export function seatGateOf(gw: RunningGateway): { redis: Redis; keys: SeatGateKeys } {
  const redis = (gw.gateway.store as unknown as { redis: Redis }).redis;
  const queueName = gw.gateway.store.keys.prefix.slice(3, -2); // "{q:<name>}:" → <name>
  return { redis, keys: seatGateKeys(seatGatePrefix(queueName)) };
}

/**
 * A gateway on port 0 with its own queue name (so tests never share keys); no ticker unless asked.
 * With a `clock`, the queue's scripts read it instead of Redis's TIME: a test advances it instead of sleeping.
 */
export async function startGateway(
  env: Record<string, string> = {},
  options: { clock?: TestClock; history?: HistoryOptions } = {},
): Promise<RunningGateway> {
  const config = loadConfig({
    NODE_ENV: "test",
    QUEUE_NAME: uniqueName("gw"),
    PORT: "0",
    TOKEN_RATE_LIMIT: "0",
    HOLD_RATE_LIMIT: "0",
    MAX_HOLDS_PER_CLIENT: "0",
    SSE_MAX_PER_CLIENT: "1000",
    ...env,
  });
  const gateway = await buildGateway(config, createLogger("gateway", "silent"), { clock: options.clock?.now, history: options.history });
  const server = await listenLoopback(createServer(gateway.handler));
  return {
    url: server.url,
    gateway,
    async close() {
      await server.close();
      await gateway.close();
    },
  };
}

export interface SeenRequest {
  method: string;
  path: string;
  body: unknown;
  passport: Passport;
  requestId: string | undefined;
  idempotencyKey: string | undefined;
}

/** A stand-in booking service that verifies the passport and records what reached it; `answer` picks its reply (default 200 echo). */
export async function startFakeBooking(
  answer: (req: express.Request) => { status: number; body: unknown } = () => ({
    status: 200,
    body: { result: { echoed: true }, error: null },
  }),
): Promise<{ url: string; seen: SeenRequest[]; close(): Promise<void> }> {
  const seen: SeenRequest[] = [];
  const app = express();
  // as booking does: the passport must be the one made for this request's method, path and body bytes
  const digests = new WeakMap<IncomingMessage, string>();
  app.use(express.json({ verify: (req, _res, bytes) => digests.set(req, bodyDigest(bytes)) }));
  app.use((req, res) => {
    try {
      const request = { method: req.method, path: req.originalUrl, bodyDigest: digests.get(req) ?? bodyDigest() };
      const passport = verifyPassport(DEV_PASSPORT_SECRET, req.headers["x-queue-passport"], request);
      seen.push({
        method: req.method,
        path: req.originalUrl,
        body: req.body,
        passport,
        requestId: req.headers["x-request-id"] as string | undefined,
        idempotencyKey: req.headers["idempotency-key"] as string | undefined,
      });
      const reply = answer(req);
      res.status(reply.status).json(reply.body);
    } catch {
      res.status(401).json({ result: null, error: { code: "PASSPORT_INVALID", message: "no" } });
    }
  });
  return { ...(await listenLoopback(createServer(app))), seen };
}

/** One HTTP call, the answer's JSON parsed when it is JSON; the headers as fetch's `Headers`. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await httpCall(url, method, path, { body: options.body, raw: options.rawBody, headers: options.headers, asFetch: true });
  return { status: r.status, body: r.body, headers: toHeaders(r.headers) };
}

export { closedPort };

/** A dedicated redis-server on a spare port, so a test may stop and restart it. */
export async function startRedisServer(port?: number): Promise<RedisServer & { stop(): Promise<void> }> {
  const server = await startTestRedisServer({ port });
  return { ...server, stop: () => server.kill() };
}

export const GATEWAY_MAIN = join(__dirname, "..", "dist", "main.js");

/** A gateway logger at debug whose JSON lines land in `lines` (to compare what two paths log). */
export function capturedLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ name: "gateway", level: "debug", base: { app: "gateway" }, timestamp: pino.stdTimeFunctions.isoTime }, sink);
  return { logger, lines };
}
