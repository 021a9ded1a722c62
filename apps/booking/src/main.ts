import { ConfigError, QueueStore, connectRedis, createLogger, createRedis } from "@concert/shared";
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
  await db.$queryRaw`SELECT 1`.catch(() => {
    throw new Error(
      `Cannot reach Postgres at ${config.databaseUrl.replace(/:[^:@/]+@/, ":***@")}. Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });

  const queueStore = new QueueStore(redis, {
    name: config.queueName,
    // booking only extends and finishes tokens; the gateway owns admission and idleness
    activeTtlSec: config.seatHoldTtlSec,
    idleTtlSec: 60,
    paymentReplaySec: config.paymentReplaySec,
  });
  const app = createApp({
    db,
    redis,
    queueStore,
    logger,
    config: {
      passportSecret: config.passportSecret,
      seatHoldTtlSec: config.seatHoldTtlSec,
      maxHoldsPerUser: config.maxHoldsPerUser,
      maxChargePoint: config.maxChargePoint,
      redisKeyPrefix: `booking:${config.queueName}`,
    },
  });
  const stopSweeper = startSweeper(app.sweep, logger, config.sweepIntervalMs);

  const server = app.listen(config.port, () => {
    const address = server.address();
    logger.info({ port: typeof address === "object" && address ? address.port : config.port }, "booking listening");
  });
  server.keepAliveTimeout = 65_000;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    const force = setTimeout(() => process.exit(1), 10_000).unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await stopSweeper();
    await Promise.allSettled([db.$disconnect(), redis.quit()]);
    clearTimeout(force);
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  // A bad variable or an unreachable dependency: one clear line, no stack.
  const message = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  console.error(`booking failed to start: ${message}`);
  process.exit(1);
});
