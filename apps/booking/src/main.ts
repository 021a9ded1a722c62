import {
  ConfigError,
  QueueTokens,
  connectRedis,
  seatGatePrefix,
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

/** Reads config, builds the app, listens; on SIGTERM/SIGINT stops accepting, drains, closes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger("booking", config.logLevel);
  const db = createDb(config.databaseUrl, { poolSize: config.databasePoolSize });
  const redis = createRedis(config.redisUrl);
  await connectRedis(redis, config.redisUrl);
  const redlockClients = await connectRedlockNodes(config.redlockUrls, config.redisUrl, redis);
  await db.$queryRaw`SELECT 1`.catch(() => {
    throw new Error(
      `Cannot reach Postgres at ${config.databaseUrl.replace(/:[^:@/]+@/, ":***@")}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });

  // booking only extends and finishes tokens; the gateway owns admission and idleness
  const queueStore = new QueueTokens(redis, { name: config.queueName, paymentReplaySec: config.paymentReplaySec });
  const app = createApp({
    db,
    redis,
    redlockClients,
    queueStore,
    logger,
    config: {
      passportSecret: config.passportSecret,
      seatHoldTtlSec: config.seatHoldTtlSec,
      maxHoldsPerUser: config.maxHoldsPerUser,
      maxChargePoint: config.maxChargePoint,
      redisKeyPrefix: seatGatePrefix(config.queueName),
    },
  });
  const stopSweeper = startSweeper(app.sweep, logger, config.sweepIntervalMs);

  const server = app.listen(config.port, () => {
    const address = server.address();
    logger.info({ port: typeof address === "object" && address ? address.port : config.port }, "booking listening");
  });
  server.keepAliveTimeout = 65_000;

  serveGracefully(server, {
    logger,
    afterClose: async () => {
      await stopSweeper();
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
