import type { Express } from "express";
import { QueueStore, createLogger, createRedis, connectRedis, type Logger } from "@concert/shared";
import { createApp } from "./app";
import type { GatewayConfig } from "./config";
import { Forwarder } from "./forward/forwarder";
import { AdmissionTicker } from "./queue/admission";
import { QueueService } from "./queue/queue-service";

export interface Gateway {
  app: Express;
  store: QueueStore;
  ticker: AdmissionTicker;
  logger: Logger;
  close(): Promise<void>;
}

/** Wires config → Redis, queue store, forwarder, admission ticker and the app. Connects to Redis. */
export async function buildGateway(config: GatewayConfig, logger = createLogger("gateway", config.LOG_LEVEL)): Promise<Gateway> {
  const redis = createRedis(config.REDIS_URL);
  await connectRedis(redis, config.REDIS_URL);
  const store = new QueueStore(redis, {
    name: config.QUEUE_NAME,
    activeTtlSec: config.ACTIVE_TOKEN_TTL_SEC,
    idleTtlSec: config.WAITING_IDLE_TTL_SEC,
    paymentReplaySec: config.PAYMENT_REPLAY_SEC,
  });
  const settings = { tickMs: config.QUEUE_TICK_MS, batch: config.QUEUE_ADMIT_BATCH, maxActive: config.QUEUE_MAX_ACTIVE };
  const queue = new QueueService(store, settings);
  const forwarder = new Forwarder({
    urls: config.BOOKING_URL,
    passportSecret: config.PASSPORT_SECRET,
    passportTtlSec: config.PASSPORT_TTL_SEC,
    timeoutMs: config.BOOKING_TIMEOUT_MS,
  });
  const ticker = new AdmissionTicker(store, settings, logger);
  const app = createApp({
    redis,
    store,
    queue,
    forwarder,
    logger,
    trustProxy: config.TRUST_PROXY,
    tokenRateLimit: { limit: config.TOKEN_RATE_LIMIT, windowSec: config.TOKEN_RATE_WINDOW_SEC, prefix: `rl:${config.QUEUE_NAME}:token:` },
  });
  return {
    app,
    store,
    ticker,
    logger,
    async close() {
      await ticker.stop();
      await forwarder.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
