import {
  JSON_BODY_LIMIT,
  METRICS_PATH,
  errorHandler,
  inventoryKey,
  notFoundHandler,
  observeRequests,
  type Logger,
  type Metrics,
  type QueueTokens,
} from "@concert/shared";
import type { RequestListener } from "node:http";
import express, { type Express } from "express";
import type { Cluster, Redis } from "ioredis";
import Redlock from "redlock";
import { apiHandlers, apiRoutes, marksPassportInHandler } from "./api/routes";
import { hotApiRoutes, type HotApi } from "./api/hot-api";
import { internalRoutes } from "./api/internal-routes";
import { healthRoutes } from "./api/health";
import { digestBody, passportOnce, requirePassport } from "./api/passport";
import type { Db } from "./db/client";
import { ConcertsRepository } from "./db/concerts.repository";
import { PaymentsRepository } from "./db/payments.repository";
import { PointsRepository } from "./db/points.repository";
import { RefundsRepository } from "./db/refunds.repository";
import { ReservationsRepository } from "./db/reservations.repository";
import { RoomsRepository } from "./db/rooms.repository";
import { RoomRegistry } from "./rooms/room-registry";
import { RoomInventory } from "./inventory/room-inventory";
import { SeatChanges } from "./seat-changes";
import { TicketsRepository } from "./db/tickets.repository";
import { dbClock } from "./db/seat-sql";
import { publishInventory } from "./concerts/inventory";
import { SeatGate } from "./reservations/seat-gate";
import { SeatMap } from "./seat-map/seat-map";
import { sweepExpiredHolds, type SweepResult } from "./reservations/sweeper";
import { bookingMetrics } from "./metrics";

export interface BookingAppConfig {
  passportSecret: string;
  seatHoldTtlSec: number;
  maxHoldsPerUser: number;
  maxChargePoint: number;
  /** cancelling a paid reservation stops this long before its performance starts (CANCEL_DEADLINE_SEC) */
  cancelDeadlineSec: number;
  /** prefix of booking's Redis keys (seat gates, locks, used passports); default `booking:<queueName>` */
  redisKeyPrefix: string;
  /** QUEUE_NAME: names the room registry the gateways read (default "main") */
  queueName?: string;
  /** GET /metrics needs `Authorization: Bearer <metricsToken>` when set */
  metricsToken?: string;
  /** /metrics has a listener of its own (METRICS_PORT), so this app leaves it off */
  metricsOwnListener?: boolean;
}

export interface BookingDeps {
  db: Db;
  redis: Redis | Cluster;
  /** Redlock's nodes (independent Redis servers; a majority must agree); default [redis] */
  redlockClients?: (Redis | Cluster)[];
  queueStore: QueueTokens;
  logger: Logger;
  config: BookingAppConfig;
  /**
   * Tests only: the time holds are decided at (their expiry, free seats, the sweep, a payment's
   * HOLD_EXPIRED). Without it every instance uses the database's clock.
   */
  clock?: () => Date;
}

export interface BookingApp extends Express {
  /** one sweep of expired holds (main.ts runs it on a timer; tests call it directly) */
  sweep: () => Promise<SweepResult>;
  /** main.ts serves them on METRICS_PORT when set */
  metrics: Metrics;
  /** the concerts and their rooms (Postgres) and the gateways' Redis copy of them (main.ts refreshes it) */
  rooms: { repository: RoomsRepository; registry: RoomRegistry; inventory: RoomInventory };
  /** the canonical forms of the public /api routes on plain node:http (api/hot-api.ts); false: for Express */
  hotApi: HotApi;
  /** what the server serves (main.ts, tests): `hotApi` first, then this Express app for everything else */
  listener: RequestListener;
}

/** The booking HTTP app, without listening (main.ts listens; tests use port 0). */
export function createApp(deps: BookingDeps): BookingApp {
  const { db, redis, queueStore, logger, config } = deps;
  const clock = dbClock(deps.clock);
  const reservations = new ReservationsRepository(db, clock);
  const inventory = new RoomInventory(db, redis, config.queueName ?? "main", logger, { clock: deps.clock });
  const gate = new SeatGate(redis, config.redisKeyPrefix);
  const seatMap = new SeatMap(db, redis, config.redisKeyPrefix, logger);
  const seatChanges = new SeatChanges(seatMap, inventory);
  const redlock = new Redlock(deps.redlockClients?.length ? deps.redlockClients : [redis], {
    driftFactor: 0.01,
    retryCount: 40,
    retryDelay: 50,
    retryJitter: 50,
  });
  redlock.on("error", () => {}); // failures reach the caller through using(); no extra noise

  const app = express() as unknown as BookingApp;
  app.disable("x-powered-by");
  app.set("etag", false); // nobody revalidates an API answer; hashing every one costs CPU
  app.set("query parser", "simple");
  const { metrics, outcomes, countOutcome, onSweep } = bookingMetrics();
  const onDependencyError = (d: string) => metrics.dependencyErrors.inc({ dependency: d });
  metrics.dependencyUp({ postgres: () => db.$queryRaw`SELECT 1`, redis: () => redis.ping() });
  const quiet = new Set(["/health", "/ready", METRICS_PATH]);
  app.use(observeRequests(logger, metrics, { quiet: (req) => quiet.has(req.path) }));
  app.use(outcomes);
  app.use(healthRoutes(db, redis));
  if (!config.metricsOwnListener) app.get(METRICS_PATH, ...metrics.handlers(config.metricsToken));
  app.use(express.json({ limit: JSON_BODY_LIMIT, verify: digestBody }));
  const rooms = { repository: new RoomsRepository(db), registry: new RoomRegistry(redis, config.queueName ?? "main"), inventory };
  const handlers = apiHandlers({
    concerts: new ConcertsRepository(db, clock),
    points: new PointsRepository(db),
    hold: {
      reservations,
      gate,
      redlock,
      queueStore,
      logger,
      holdTtlMs: config.seatHoldTtlSec * 1000,
      maxHoldsPerUser: config.maxHoldsPerUser,
      seatChanges,
    },
    pay: { payments: new PaymentsRepository(db, clock), queueStore, logger, seatChanges },
    maxChargePoint: config.maxChargePoint,
    cancel: { refunds: new RefundsRepository(db, config.cancelDeadlineSec, clock), gate, logger, seatChanges },
    tickets: new TicketsRepository(db, clock),
    seatMap,
  });
  app.use("/api", requirePassport(config.passportSecret), passportOnce(redis, config.redisKeyPrefix, marksPassportInHandler(handlers)));
  app.use(internalRoutes({ rooms: rooms.repository, registry: rooms.registry, inventory, now: deps.clock }));
  app.use(apiRoutes(handlers));
  app.use(notFoundHandler);
  app.use(errorHandler(logger, { onDependencyError }));
  app.metrics = metrics;
  app.hotApi = hotApiRoutes({
    handlers,
    passportSecret: config.passportSecret,
    redis,
    redisKeyPrefix: config.redisKeyPrefix,
    logger,
    metrics,
    countOutcome,
    onDependencyError,
  });
  app.listener = (req, res) => {
    if (!app.hotApi(req, res)) app(req, res);
  };
  app.rooms = rooms;
  const concerts = new ConcertsRepository(db, clock);
  app.sweep = async () => {
    const result = await sweepExpiredHolds({ reservations, gate, logger, seatChanges });
    onSweep(result);
    // then the operators' inventory snapshot (every instance renews it; the newest count wins)
    await publishInventory(concerts, redis, inventoryKey(config.redisKeyPrefix)).catch((err: Error) =>
      logger.warn({ err: { message: err.message } }, "inventory snapshot not written; the next sweep retries"),
    );
    return result;
  };
  return app;
}
