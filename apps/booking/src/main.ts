import type { AddressInfo } from "node:net";
import {
  ConfigError,
  QueueTokens,
  ROOM_REGISTRY_REFRESH_MS,
  connectRedis,
  seatGatePrefix,
  createHttpServer,
  serveGracefully,
  createLogger,
  createRedis,
  redactUrl,
  type RedisClient,
} from "@concert/shared";
import { createApp } from "./app";
import { loadConfig } from "./config";
import { createDb } from "./db/client";
import { startSweeper } from "./reservations/sweeper";
import { startRegistryRefresh } from "./rooms/room-registry";

/** Reads config, builds the app, listens; on SIGTERM/SIGINT stops accepting, drains, closes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger("booking", config.LOG_LEVEL);
  const db = createDb(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE });
  const redis = createRedis(config.REDIS_URL);
  await connectRedis(redis, config.REDIS_URL);
  const redlockClients = await connectRedlockNodes(config.REDLOCK_URLS, config.REDIS_URL, redis);
  await db.$queryRaw`SELECT 1`.catch(() => {
    throw new Error(
      `Cannot reach Postgres at ${config.DATABASE_URL.replace(/:[^:@/]+@/, ":***@")}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });

  // booking only extends and finishes tokens; the gateway owns admission and idleness
  const queueStore = new QueueTokens(redis, { name: config.QUEUE_NAME, paymentReplaySec: config.PAYMENT_REPLAY_SEC });
  const app = createApp({
    db,
    redis,
    redlockClients,
    queueStore,
    logger,
    config: {
      passportSecret: config.PASSPORT_SECRET,
      seatHoldTtlSec: config.SEAT_HOLD_TTL_SEC,
      maxHoldsPerUser: config.MAX_HOLDS_PER_USER,
      maxChargePoint: config.MAX_CHARGE_POINT,
      cancelDeadlineSec: config.CANCEL_DEADLINE_SEC,
      redisKeyPrefix: seatGatePrefix(config.QUEUE_NAME),
      queueName: config.QUEUE_NAME,
      metricsToken: config.METRICS_TOKEN,
      metricsOwnListener: config.METRICS_PORT !== undefined,
    },
  });
  const stopSweeper = startSweeper(app.sweep, logger, config.SWEEP_INTERVAL_MS);
  const stopRegistry = startRegistryRefresh(
    app.rooms.repository,
    app.rooms.registry,
    logger,
    ROOM_REGISTRY_REFRESH_MS,
    app.rooms.inventory,
  );

  const server = createHttpServer(app.listener, config).listen(config.PORT, config.HOST, () => {
    const address = server.address() as AddressInfo;
    logger.info({ host: address.address, port: address.port }, "booking listening");
  });
  const metricsServer =
    config.METRICS_PORT === undefined ? undefined : app.metrics.app(logger, config.METRICS_TOKEN).listen(config.METRICS_PORT, config.HOST);
  if (metricsServer) {
    // a taken port stops the start with one line (main's catch), like any other start failure
    await new Promise<void>((resolve, reject) => metricsServer.once("listening", resolve).once("error", reject));
    logger.info({ metricsPort: (metricsServer.address() as AddressInfo).port }, "metrics listening");
  }

  serveGracefully(server, {
    logger,
    afterClose: async () => {
      metricsServer?.close();
      await stopSweeper();
      await stopRegistry();
      app.rooms.inventory.close();
      await Promise.allSettled([db.$disconnect(), redis.quit(), ...redlockClients.filter((c) => c !== redis).map((c) => c.quit())]);
    },
  });
}

/**
 * Redlock's nodes: REDIS_URL's client when REDLOCK_URLS is unset, else one client per URL. A lock
 * needs a majority of them, so booking starts when a majority answers; the others keep
 * reconnecting in the background.
 */
async function connectRedlockNodes(urls: string[], redisUrl: string, redis: RedisClient): Promise<RedisClient[]> {
  if (urls.length === 1 && urls[0] === redisUrl) return [redis];
  const clients = urls.map((url) => (url === redisUrl ? redis : createRedis(url)));
  const up = await Promise.all(
    clients.map(async (client) => {
      if (client === redis) return true;
      try {
        if (client.status === "wait") await client.connect();
        await client.ping();
        return true;
      } catch {
        return false;
      }
    }),
  );
  const reachable = up.filter(Boolean).length;
  if (reachable <= urls.length / 2) {
    clients.forEach((c) => c !== redis && c.disconnect());
    const down = urls.filter((_, i) => !up[i]).map(redactUrl);
    throw new Error(`Redlock needs a majority of REDLOCK_URLS; cannot reach ${down.join(", ")}`);
  }
  return clients;
}

main().catch((err: unknown) => {
  // A bad variable or an unreachable dependency: one clear line, no stack.
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  console.error(`booking failed to start: ${message}`);
  process.exit(1);
});
