import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type Express, type RequestHandler } from "express";
import type { Cluster, Redis } from "ioredis";
import {
  METRICS_PATH,
  ROOMS_PATH,
  errorHandler,
  notFoundHandler,
  observeRequests,
  ok,
  redisCall,
  type Logger,
  type Metrics,
  type QueueStore,
} from "@concert/shared";
import { adminRoutes, type AdminDeps } from "./api/admin-routes";
import { TRUST_CLIENT, identityStep, type Identity } from "./auth/identity";
import { forwardHandlers, forwardRoutes, type EarlySeatRefusal, type ForwardDeps, type HoldCaps } from "./api/forward-routes";
import { JSON_BODY_LIMIT, hotQueueRoutes } from "./api/hot-routes";
import { openApiRoutes } from "./api/openapi";
import { methodNotAllowed, publicRoutes, routesOf, successLevelOf } from "./api/public-routes";
import { queueHandlers } from "./api/queue-routes";
import { clientIpResolver, compileTrust, type ClientRateLimiter, type TrustProxy } from "./api/rate-limit";
import { streamHandlers } from "./api/stream-routes";
import { webPage } from "./api/web-page";
import type { ConcertOf } from "./forward/concert-of";
import type { Forwarder } from "./forward/forwarder";
import type { SeatMapReader } from "./forward/seat-map-reader";
import { SeatSingleFlight } from "./forward/seat-single-flight";
import { roomView, type Rooms } from "./queue/rooms";
import type { QueueService } from "./queue/queue-service";
import type { QueueStreams } from "./queue/queue-streams";

export interface GatewayDeps {
  redis: Redis | Cluster;
  store: QueueStore;
  queue: QueueService;
  forwarder: Forwarder;
  logger: Logger;
  /** per-client limit of POST /api/users/token */
  tokenRateLimit: ClientRateLimiter;
  /** AUTH_MODE=jwt: per-verified-user limit of POST /api/users/token */
  tokenUserRateLimit?: ClientRateLimiter;
  /** who is asking: the verified user of the bearer (AUTH_MODE=jwt), or nobody (none, the default) */
  identity?: Identity;
  /** Express "trust proxy" setting: which X-Forwarded-For hops name the client (none by default) */
  trustProxy?: TrustProxy;
  /** open SSE streams of GET /api/queue/stream (fed by the tick pub/sub) */
  streams: QueueStreams;
  metrics: Metrics;
  /** refuse holds of seats already claimed in booking's Redis gate before forwarding */
  seatGate?: Omit<EarlySeatRefusal, "redis">;
  /** per-address bounds on holds: how fast, how many live */
  holdCaps?: HoldCaps;
  /** counts tokens we issued that Redis does not know (queue_tokens_lost_total) on the forwarded routes */
  onLostToken?: () => void;
  /** the concert rooms, and where the concert of a performance or reservation is learnt */
  rooms?: { rooms: Rooms; concertOf: ConcertOf };
  /** operator routes (/admin/*) are mounted only with a token */
  admin?: Omit<AdminDeps, "store">;
  /** GET /metrics: behind this bearer token when set; left off this app when it has a listener of its own (METRICS_PORT) */
  metricsRoute?: { token?: string; ownListener: boolean };
  /** folder of the built waiting-room page served at `/` (default apps/web/dist) */
  webRoot?: string;
  /** booking's seat-availability read model: the seat map and dates answered on the hot path */
  seatMap?: SeatMapReader;
}

/** The limits of POST /api/users/token on Express: per address, then (jwt) per verified user. */
function issueLimits(deps: GatewayDeps): RequestHandler[] {
  const perUser = deps.tokenUserRateLimit;
  const userLimit: RequestHandler = (_req, res, next) => {
    const verified = res.locals.verifiedUserId as number | undefined;
    if (perUser === undefined || verified === undefined) return next();
    perUser.consumeKey(String(verified)).then(() => next(), next);
  };
  return [deps.tokenRateLimit.middleware(), userLimit];
}

/** What the forward of the booking routes needs: Express's handlers and the hot path build theirs from the same. */
function forwardDeps(deps: GatewayDeps, singleFlight: SeatSingleFlight): ForwardDeps {
  return {
    store: deps.store,
    onLostToken: deps.onLostToken,
    forwarder: deps.forwarder,
    seatGate: deps.seatGate && { ...deps.seatGate, redis: deps.redis },
    holdCaps: deps.holdCaps,
    singleFlight,
    rooms: deps.rooms,
  };
}

/** The gateway's Express app, without listening (tests and main.ts both use it). */
export function createApp(deps: GatewayDeps, singleFlight = new SeatSingleFlight()): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.set("trust proxy", deps.trustProxy ?? false);

  const quiet = new Set(["/health", "/ready", METRICS_PATH]);
  app.use(
    observeRequests(deps.logger, deps.metrics, {
      quiet: (req) => quiet.has(req.path),
      successLevel: successLevelOf(),
    }),
  );
  app.use(express.json({ limit: JSON_BODY_LIMIT, strict: true }));
  // every public route of the table (the hot ones in every form the hot path leaves to Express)
  app.use(
    publicRoutes(
      {
        ...queueHandlers(deps.queue, issueLimits(deps)),
        ...streamHandlers(deps.streams, clientIpResolver(deps.trustProxy ?? compileTrust())),
      },
      forwardHandlers(forwardDeps(deps, singleFlight)),
      identityStep(deps.identity ?? TRUST_CLIENT),
    ),
  );

  // the concerts with a room of their own, for the page (issue 14; public, like /health)
  app.get(ROOMS_PATH, async (_req, res) => {
    const rooms = deps.rooms?.rooms;
    if (rooms) await rooms.directory.fresh();
    res.json(ok({ rooms: rooms ? await Promise.all(rooms.all().map((r) => roomView(r, Date.now()))) : [] }));
  });
  app.get("/health", (_req, res) => {
    res.json(ok({ status: "ok" }));
  });
  app.get("/ready", async (_req, res) => {
    try {
      await redisCall(deps.redis.ping());
      res.json(ok({ status: "ready", redis: "ok" }));
    } catch {
      res.setHeader("Retry-After", "1");
      res.status(503).json({ result: null, error: { code: "SERVICE_UNAVAILABLE", message: "redis is unavailable" } });
    }
  });
  if (!deps.metricsRoute?.ownListener) app.get(METRICS_PATH, ...deps.metrics.handlers(deps.metricsRoute?.token));
  const openApi = openApiRoutes();
  // other methods on the routes above and OpenAPI's (/openapi.json, /docs): 405 with Allow; in front of
  // the OpenAPI router, whose own OPTIONS answer is Express's plain-text one
  app.use(methodNotAllowed([...routesOf(app.router), ...routesOf(openApi)]));
  app.use(openApi);
  if (deps.admin) {
    const rooms = deps.rooms && { rooms: deps.rooms.rooms, forwarder: deps.forwarder };
    app.use(adminRoutes({ store: deps.store, ...deps.admin, rooms }));
  }

  app.use(webPage(deps.webRoot, deps.logger));
  app.use(notFoundHandler);
  app.use(errorHandler(deps.logger, { onDependencyError: (d) => deps.metrics.dependencyErrors.inc({ dependency: d }) }));
  return app;
}

/**
 * The gateway's request listener: the table's hot routes on plain node:http first (see
 * api/hot-routes.ts), everything else, including every other form of those routes, on Express.
 */
export function createHandler(
  deps: GatewayDeps,
  singleFlight = new SeatSingleFlight(),
  app: Express = createApp(deps, singleFlight),
): RequestListener {
  const hot = hotQueueRoutes({
    queue: deps.queue,
    limiter: deps.tokenRateLimit,
    userLimiter: deps.tokenUserRateLimit,
    identity: deps.identity ?? TRUST_CLIENT,
    logger: deps.logger,
    metrics: deps.metrics,
    onDependencyError: (d) => deps.metrics.dependencyErrors.inc({ dependency: d }),
    store: deps.store,
    rooms: deps.rooms,
    onLostToken: deps.onLostToken,
    seatMap: deps.seatMap,
    forward: forwardRoutes(forwardDeps(deps, singleFlight)),
    fallback: app,
  });
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!hot(req, res)) app(req, res);
  };
}
