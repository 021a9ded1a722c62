import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express } from "express";
import type { Cluster, Redis } from "ioredis";
import {
  errorHandler,
  notFoundHandler,
  observeRequests,
  ok,
  type AdmissionSettings,
  type Logger,
  type Metrics,
  type QueueStore,
} from "@concert/shared";
import { adminRoutes } from "./api/admin-routes";
import { openApiRoutes } from "./api/openapi";
import { forwardRoutes, type EarlySeatRefusal } from "./api/forward-routes";
import { queueRoutes } from "./api/queue-routes";
import { JSON_BODY_LIMIT, hotQueueRoutes } from "./api/hot-routes";
import type { TokenRateLimiter, TrustProxy } from "./api/rate-limit";
import { streamRoutes, type QueueStreams } from "./api/stream-routes";
import { webPage } from "./api/web-page";
import type { Forwarder } from "./forward/forwarder";
import type { QueueService } from "./queue/queue-service";

export interface GatewayDeps {
  redis: Redis | Cluster;
  store: QueueStore;
  queue: QueueService;
  forwarder: Forwarder;
  logger: Logger;
  /** per-client limit of POST /api/users/token */
  tokenRateLimit: TokenRateLimiter;
  /** Express "trust proxy" setting: which X-Forwarded-For hops name the client (none by default) */
  trustProxy?: TrustProxy;
  /** open SSE streams of GET /api/queue/stream (fed by the tick pub/sub) */
  streams: QueueStreams;
  metrics: Metrics;
  /** refuse holds of seats already claimed in booking's Redis gate before forwarding */
  seatGate?: Omit<EarlySeatRefusal, "redis">;
  /** operator routes (/admin/*) are mounted only with a token */
  admin?: { token: string; configured: AdmissionSettings };
  /** folder of the built waiting-room page served at `/` (default apps/web/dist) */
  webRoot?: string;
}

/** The gateway's Express app, without listening (tests and main.ts both use it). */
export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.set("trust proxy", deps.trustProxy ?? false);

  const quiet = new Set(["/health", "/ready", "/metrics"]);
  app.use(
    observeRequests(deps.logger, deps.metrics, {
      quiet: (req) => quiet.has(req.path),
      // a waiting client's poll is its heartbeat: thousands a second, counted in the metrics and
      // logged only at debug when it succeeds (refusals are logged like every other request)
      successLevel: (req, route) => (route === "/api/users/:userId/token" && req.method === "GET" ? "debug" : "info"),
    }),
  );
  app.use(express.json({ limit: JSON_BODY_LIMIT, strict: true }));
  // the queue routes in every form the hot path (createHandler) leaves to Express
  app.use(queueRoutes(deps.queue, deps.tokenRateLimit.middleware()));

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
  app.get("/metrics", deps.metrics.handler());
  app.use(openApiRoutes());
  if (deps.admin) app.use(adminRoutes(deps.store, deps.admin.token, deps.admin.configured));

  app.use(streamRoutes(deps.streams));
  app.use(forwardRoutes(deps.store, deps.forwarder, deps.seatGate && { ...deps.seatGate, redis: deps.redis }));
  app.use(webPage(deps.webRoot, deps.logger));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger, { onDependencyError: (d) => deps.metrics.dependencyErrors.inc({ dependency: d }) }));
  return app;
}

/**
 * The gateway's request listener: the two hot queue routes on plain node:http first (see
 * api/hot-routes.ts), everything else, including every other form of those routes, on Express.
 */
export function createHandler(deps: GatewayDeps, app: Express = createApp(deps)): RequestListener {
  const hot = hotQueueRoutes({
    queue: deps.queue,
    limiter: deps.tokenRateLimit,
    logger: deps.logger,
    metrics: deps.metrics,
    onDependencyError: (d) => deps.metrics.dependencyErrors.inc({ dependency: d }),
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!hot(req, res)) app(req, res);
  };
}
