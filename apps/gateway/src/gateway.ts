import type { RequestListener } from "node:http";
import type { Express } from "express";
import {
  DEFAULT_ADMIT_PER_FREE_SEAT,
  QueueStore,
  createLogger,
  createRedis,
  connectRedis,
  dependencyOf,
  inventoryKey,
  seatGateKeys,
  seatGatePrefix,
  type Logger,
  type Metrics,
  type QueueStoreOptions,
} from "@concert/shared";
import type { Redis } from "ioredis";
import { createApp, createHandler } from "./app";
import { AuditLog, auditKey } from "./console/audit-log";
import { BookingHealth } from "./console/booking-health";
import { History, type HistoryOptions } from "./console/history";
import { inventoryReader, soldSeats } from "./console/inventory";
import { BOOKING_ROUTES } from "./api/forward-routes";
import { ClientRateLimiter, clientIpResolver } from "./api/rate-limit";
import { TRUST_CLIENT, verifiedIdentity, type Identity } from "./auth/identity";
import { BearerVerifier, resilientJwks } from "./auth/verifier";
import type { GatewayConfig } from "./config";
import { ClientHolds } from "./forward/client-holds";
import { Forwarder } from "./forward/forwarder";
import { SeatMapReader } from "./forward/seat-map-reader";
import { SeatSingleFlight } from "./forward/seat-single-flight";
import { AdmissionTicker } from "./queue/admission";
import { ConcertOf } from "./forward/concert-of";
import { RoomTicker } from "./queue/room-ticker";
import { RoomDirectory, Rooms } from "./queue/rooms";
import { QueueService } from "./queue/queue-service";
import { ReplicaAcks } from "./queue/replica-acks";
import { gatewayMetrics } from "./metrics";
import { QueueStreams, streamCap } from "./queue/queue-streams";
import { TickEvents, ticksChannel } from "./queue/tick-events";

export interface Gateway {
  /** serve this: the hot queue routes, then the Express app */
  handler: RequestListener;
  /** the Express part (every route but the hot forms of the two queue routes) */
  app: Express;
  store: QueueStore;
  ticker: AdmissionTicker;
  /** the console's charts (sampled only when ADMIN_TOKEN is set) */
  history: History;
  /** the concert rooms this instance serves, and their one admission loop (main.ts starts it with `ticker`) */
  rooms: Rooms;
  roomTicker: RoomTicker;
  /** the open SSE streams of this instance (main.ts ends them before closing the server) */
  streams: QueueStreams;
  logger: Logger;
  /** main.ts serves them on METRICS_PORT when set */
  metrics: Metrics;
  close(): Promise<void>;
}

/** AUTH_MODE=jwt: the bearer verifier over the configured keys (a JWKS URL or one public key); none: trust the client. */
export function identityOf(config: GatewayConfig, logger: Logger): Identity {
  if (config.AUTH_MODE === "none") return TRUST_CLIENT;
  const keys =
    config.AUTH_PUBLIC_KEY ??
    resilientJwks(
      {
        url: config.AUTH_JWKS_URL!,
        cooldownMs: config.AUTH_JWKS_COOLDOWN_SEC * 1000,
        cacheMaxAgeMs: config.AUTH_JWKS_CACHE_MAX_AGE_SEC * 1000,
        timeoutMs: config.AUTH_JWKS_TIMEOUT_MS,
      },
      logger,
    );
  return verifiedIdentity(
    new BearerVerifier({
      keys,
      issuer: config.AUTH_ISSUER!,
      audience: config.AUTH_AUDIENCE!,
      userClaim: config.AUTH_USER_CLAIM,
      algorithms: config.AUTH_ALGORITHMS,
      clockToleranceSec: config.AUTH_CLOCK_TOLERANCE_SEC,
      cache: { size: config.AUTH_CACHE_SIZE, maxAgeMs: config.AUTH_CACHE_MAX_AGE_SEC * 1000 },
      logger,
    }),
  );
}

/** Wires config → Redis, queue store, forwarder, admission ticker and the app. Connects to Redis. */
export async function buildGateway(
  config: GatewayConfig,
  logger = createLogger("gateway", config.LOG_LEVEL),
  /** tests only: a clock (ms) the queue scripts read instead of Redis TIME */
  options: { clock?: () => number; history?: HistoryOptions } = {},
): Promise<Gateway> {
  const redis = createRedis(config.REDIS_URL);
  await connectRedis(redis, config.REDIS_URL);
  const storeOptions = {
    name: config.QUEUE_NAME,
    activeTtlSec: config.ACTIVE_TOKEN_TTL_SEC,
    sessionMaxSec: config.ACTIVE_SESSION_MAX_SEC,
    idleTtlSec: config.WAITING_IDLE_TTL_SEC,
    paymentReplaySec: config.PAYMENT_REPLAY_SEC,
    clock: options.clock,
  };
  const store = new QueueStore(redis, storeOptions);
  const settings = { tickMs: config.QUEUE_TICK_MS, batch: config.QUEUE_ADMIT_BATCH, maxActive: config.QUEUE_MAX_ACTIVE };

  const forwarder = new Forwarder({
    urls: config.BOOKING_URL,
    passportSecret: config.PASSPORT_SECRET,
    passportTtlSec: config.PASSPORT_TTL_SEC,
    timeoutMs: config.BOOKING_TIMEOUT_MS,
  });
  // (the gauge reads `streams` at scrape time, after it exists)
  const { metrics, onTick, onRoomTick, onHoldRefused, onStreamRefused, onLostToken } = gatewayMetrics(
    store,
    () => streams.size,
    () => ticker.effective,
    () =>
      rooms.all().map((r) => ({
        room: String(r.concertId),
        store: r.store,
        admission: () => ({ ...r.effective, admitPerFreeSeat: r.settings.admitPerFreeSeat }),
      })),
  );
  metrics.dependencyUp({ redis: () => redis.ping() });
  const ticker = new AdmissionTicker(store, settings, logger, onTick, (err) => {
    metrics.dependencyErrors.inc({ dependency: dependencyOf(err) ?? "redis" });
  });
  const acked = await acknowledgedIssues(config, storeOptions);
  // the concert rooms: booking's registry (Redis), one store and queue service per room, one loop ticking them all
  const directory = new RoomDirectory(redis, config.QUEUE_NAME, logger);
  await directory
    .refresh()
    .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, "room registry not read yet"));
  const rooms: Rooms = new Rooms(redis, directory, {
    storeOptions,
    defaults: { ...settings, activeTtlSec: config.ACTIVE_TOKEN_TTL_SEC, admitPerFreeSeat: DEFAULT_ADMIT_PER_FREE_SEAT },
    service: (roomStore, roomSettings, schedule) =>
      new QueueService(roomStore, {
        settings: roomSettings,
        schedule,
        onLostToken,
        onIssued: () => rooms.issued(roomStore.concertId as number),
        // REDIS_MIN_REPLICAS_ACK: the room's issues on the acknowledged connection too (issues read no active TTL)
        acknowledged: acked && {
          store: new QueueStore(acked.redis, { ...storeOptions, concertId: roomStore.concertId as number }),
          acks: acked.issues.acks,
        },
      }),
  });
  const queue = new QueueService(store, { settings: () => ticker.effective, acknowledged: acked?.issues, onLostToken, rooms });
  // SSE fan-out: one PUBLISH per tick that ran, heard on a separate subscriber connection.
  const subscriber = createRedis(config.REDIS_URL);
  await connectRedis(subscriber, config.REDIS_URL);
  const tickEvents = new TickEvents(redis, subscriber, ticksChannel(store.keys.prefix), logger);
  await tickEvents.start();
  ticker.afterTick((result) => tickEvents.publish(result));
  const roomTicker = new RoomTicker(
    rooms,
    logger,
    (concertId, result) => {
      onRoomTick(concertId, result);
      void tickEvents.publish(result);
    },
    (err) => metrics.dependencyErrors.inc({ dependency: dependencyOf(err) ?? "redis" }),
  );
  const maxStreams = streamCap(config.SSE_MAX_STREAMS, config.SSE_FD_RESERVE);
  if (maxStreams < config.SSE_MAX_STREAMS) {
    logger.warn(
      { SSE_MAX_STREAMS: config.SSE_MAX_STREAMS, SSE_FD_RESERVE: config.SSE_FD_RESERVE, maxStreams },
      "stream cap lowered to keep descriptors in reserve",
    );
  }
  const streams = new QueueStreams(queue, tickEvents, logger, {
    idleRefreshMs: Math.min(5_000, (config.WAITING_IDLE_TTL_SEC * 1000) / 4),
    maxPerToken: config.SSE_MAX_PER_TOKEN,
    maxPerClient: config.SSE_MAX_PER_CLIENT,
    maxStreams,
    onRefused: onStreamRefused,
  });
  // the console's charts: one sample per slot across instances (every instance tries; one takes it)
  const inventory = inventoryReader(redis, inventoryKey(seatGatePrefix(config.QUEUE_NAME)));
  const bookingHealth = new BookingHealth(redis, config.QUEUE_NAME, metrics, new Set(BOOKING_ROUTES.map((r) => r.path)), options.history);
  const history = new History(
    redis,
    config.QUEUE_NAME,
    async () => {
      // every room at once: the general room's figures (its sold seats: the dates of concerts without a room of their own)
      // and each concert room's (its own counts and booking's live inventory of its dates)
      await directory.fresh();
      const [stats, seats, roomFigures] = await Promise.all([
        store.stats(),
        inventory(),
        Promise.all(
          rooms.all().map(async (room) => {
            const [s, inv] = await Promise.all([room.store.stats(), room.store.inventory()]);
            const figures = { waiting: s.waiting, active: s.active, admittedLastMinute: s.admittedLastMinute, sold: inv?.sold ?? null };
            return [String(room.concertId), figures] as const;
          }),
        ),
      ]);
      return {
        waiting: stats.waiting,
        active: stats.active,
        admittedLastMinute: stats.admittedLastMinute,
        sold: soldSeats(seats, (d) => !directory.get(d.concertId)?.room),
        rooms: Object.fromEntries(roomFigures),
      };
    },
    options.history,
    { everySlot: () => bookingHealth.push() },
  );
  const deps = {
    redis,
    store,
    onLostToken,
    queue,
    forwarder,
    logger,
    trustProxy: config.TRUST_PROXY,
    streams,
    metrics,
    seatGate: { keys: seatGateKeys(seatGatePrefix(config.QUEUE_NAME)), onRefused: onHoldRefused },
    seatMap: config.SEAT_MAP_READS ? new SeatMapReader(redis, seatGatePrefix(config.QUEUE_NAME)) : undefined,
    metricsRoute: { token: config.METRICS_TOKEN, ownListener: config.METRICS_PORT !== undefined },
    admin: config.ADMIN_TOKEN
      ? {
          token: config.ADMIN_TOKEN,
          configured: settings,
          audit: new AuditLog(redis, auditKey(config.QUEUE_NAME)),
          history,
          inventory,
          bookingHealth,
          estimateWait: (rank: number, perSec: number | null) => queue.estimateWait(rank, perSec),
        }
      : undefined,
    rooms: { rooms, concertOf: new ConcertOf(forwarder) },
    tokenRateLimit: new ClientRateLimiter(
      redis,
      { limit: config.TOKEN_RATE_LIMIT, windowSec: config.TOKEN_RATE_WINDOW_SEC, prefix: `rl:${config.QUEUE_NAME}:token` },
      clientIpResolver(config.TRUST_PROXY),
    ),
    identity: identityOf(config, logger),
    tokenUserRateLimit:
      config.AUTH_MODE === "jwt"
        ? new ClientRateLimiter(
            redis,
            {
              limit: config.TOKEN_RATE_LIMIT_PER_USER,
              windowSec: config.TOKEN_RATE_WINDOW_SEC,
              prefix: `rl:${config.QUEUE_NAME}:token-user`,
              what: "token requests of this user",
            },
            clientIpResolver(config.TRUST_PROXY),
          )
        : undefined,
    holdCaps: {
      rate: new ClientRateLimiter(
        redis,
        {
          limit: config.HOLD_RATE_LIMIT,
          windowSec: config.HOLD_RATE_WINDOW_SEC,
          prefix: `rl:${config.QUEUE_NAME}:hold`,
          what: "seat holds",
        },
        clientIpResolver(config.TRUST_PROXY),
      ),
      live: new ClientHolds(
        redis,
        { maxLive: config.MAX_HOLDS_PER_CLIENT, prefix: `holds:${config.QUEUE_NAME}:client`, inFlightMs: config.BOOKING_TIMEOUT_MS },
        logger,
      ),
      clientIp: clientIpResolver(config.TRUST_PROXY),
    },
  };
  // one per instance: the holds the hot path forwards and those Express forwards wait on each other
  const singleFlight = new SeatSingleFlight();
  const app = createApp(deps, singleFlight);
  if (config.ADMIN_TOKEN) history.start(logger);
  return {
    handler: createHandler(deps, singleFlight, app),
    app,
    store,
    ticker,
    history,
    rooms,
    roomTicker,
    streams,
    logger,
    metrics,
    async close() {
      await ticker.stop();
      await history.stop();
      await roomTicker.stop();
      streams.close();
      await tickEvents.close();
      await forwarder.close();
      await acked?.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * With REDIS_MIN_REPLICAS_ACK > 0, a connection of its own for token issues and the WAIT after
 * them: WAIT blocks its connection, and polls must not queue behind it while a replica is slow or gone.
 */
async function acknowledgedIssues(config: GatewayConfig, storeOptions: QueueStoreOptions) {
  if (config.REDIS_MIN_REPLICAS_ACK === 0) return undefined;
  const redis = createRedis(config.REDIS_URL) as Redis; // the config refuses a cluster URL here
  await connectRedis(redis, config.REDIS_URL);
  const acks = new ReplicaAcks(redis, { minReplicas: config.REDIS_MIN_REPLICAS_ACK, timeoutMs: config.REDIS_REPLICA_ACK_TIMEOUT_MS });
  return {
    redis,
    issues: { store: new QueueStore(redis, storeOptions), acks },
    close: () =>
      redis.quit().then(
        () => undefined,
        () => redis.disconnect(),
      ),
  };
}
