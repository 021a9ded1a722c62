import { randomUUID } from "node:crypto";
import express, { type Express } from "express";
import pinoHttp from "pino-http";
import type { Cluster, Redis } from "ioredis";
import { errorHandler, notFoundHandler, ok, type Logger, type QueueStore } from "@concert/shared";
import { forwardRoutes } from "./api/forward-routes";
import { queueRoutes } from "./api/queue-routes";
import { tokenRateLimit, type TokenRateLimitOptions } from "./api/rate-limit";
import type { Forwarder } from "./forward/forwarder";
import type { QueueService } from "./queue/queue-service";

export interface GatewayDeps {
  redis: Redis | Cluster;
  store: QueueStore;
  queue: QueueService;
  forwarder: Forwarder;
  logger: Logger;
  tokenRateLimit: TokenRateLimitOptions;
  /** Express "trust proxy" setting: which X-Forwarded-For hops name the client */
  trustProxy?: string;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The gateway's Express app, without listening (tests and main.ts both use it). */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.set("trust proxy", parseTrustProxy(deps.trustProxy));

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("x-request-id", id);
        return id;
      },
      customProps: (req) => ({ userId: (req as { userId?: number }).userId }),
      serializers: { req: (r) => ({ method: r.method, url: r.url }), res: (r) => ({ statusCode: r.statusCode }) },
    }),
  );
  app.use(express.json({ limit: "16kb", strict: true }));

  app.get("/health", (_req, res) => {
    res.json(ok({ status: "ok" }));
  });
  app.get("/ready", async (_req, res) => {
    try {
      await deps.redis.ping();
      res.json(ok({ status: "ready", redis: "ok" }));
    } catch {
      res.setHeader("Retry-After", "1");
      res.status(503).json({ result: null, error: { code: "SERVICE_UNAVAILABLE", message: "redis is unavailable" } });
    }
  });

  app.use(queueRoutes(deps.queue, tokenRateLimit(deps.redis, deps.tokenRateLimit)));
  app.use(forwardRoutes(deps.store, deps.forwarder));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger));
  return app;
}

/** TRUST_PROXY: "false", "true", a hop count, or addresses/subnets (Express's forms). */
function parseTrustProxy(v = "false"): boolean | number | string {
  if (v === "false") return false;
  if (v === "true") return true;
  return /^\d+$/.test(v) ? Number(v) : v;
}
