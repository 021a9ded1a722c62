import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ROUTES,
  errorAnswer,
  hasNoBody,
  isPlainJson,
  matchHotPath,
  ok,
  parseOr400,
  pathPattern,
  readJson,
  recordRequest,
  requestId,
  sendJson,
  type HotPath,
  type Logger,
  type Metrics,
  type RouteName,
} from "@concert/shared";
import { bindUser, type Identity } from "../auth/identity";
import type { SeatMapReader } from "../forward/seat-map-reader";
import type { QueueService } from "../queue/queue-service";
import type { QueueStore } from "@concert/shared";
import { authorizeToken, checkTokenRoom, storeOfToken, type ForwardRoute, type RoomChecks } from "./forward-routes";
import type { ClientRateLimiter } from "./rate-limit";
import { issueProof, tokenHeader } from "./queue-routes";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

export interface HotRouteDeps {
  queue: QueueService;
  limiter: ClientRateLimiter;
  /** AUTH_MODE=jwt: the token-issue limit per verified user (as well as `limiter`'s per address) */
  userLimiter?: ClientRateLimiter;
  identity: Identity;
  logger: Logger;
  metrics: Metrics;
  onDependencyError: (dependency: string) => void;
  /** the token checks of the read-model routes (as forward-routes.ts makes them) */
  store?: QueueStore;
  /** the concert rooms: a room token's store, and TOKEN_WRONG_CONCERT (as forward-routes.ts checks them) */
  rooms?: RoomChecks;
  onLostToken?: () => void;
  /** booking's seat-availability read model; without it the read-model routes are forwarded */
  seatMap?: SeatMapReader;
  /**
   * the forward of each booking route (forward-routes.ts, the same logic Express's handlers run,
   * sharing its seat single flight); without it booking routes are left to Express
   */
  forward?: (route: GatewayRoute) => ForwardRoute;
  /** serves a request the hot path gave up on after starting it (a read model not built yet): Express */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** What a hot form's work returns when it cannot answer after all: the request goes on to `fallback`. */
const MISS = Symbol("miss");
/** What a hot form's work returns when it wrote the answer itself (a forward: the Forwarder writes booking's). */
const ANSWERED = Symbol("answered");

// the canonical body forms and their reading are shared with booking's hot routes
export { JSON_BODY_LIMIT, pathPattern } from "@concert/shared";

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What the log line and the work of one hot request share; the work fills in the user id. */
interface HotRecord {
  reqId: string;
  userId?: unknown;
}

/**
 * The hot form of one route. `accepts` says whether this request is in the canonical form the hot
 * path takes (else Express serves it); `work` is async, so whatever it throws becomes the answer.
 * `ids` is the path match: `ids[1]…` are the path's `:param` ids, in order, known to be in range.
 */
interface HotImpl {
  accepts?: (req: IncomingMessage) => boolean;
  work: (
    deps: HotRouteDeps,
    req: IncomingMessage,
    ids: RegExpExecArray | null,
    record: HotRecord,
    route: GatewayRoute,
    res: ServerResponse,
  ) => Promise<unknown>;
}

/**
 * The forward's token checks (forward-routes.ts), in its order: the token in its room's store, the
 * verified user, then whether the token's room serves the concert the request is about.
 */
async function checkToken(
  deps: HotRouteDeps & { store: QueueStore },
  req: IncomingMessage,
  route: GatewayRoute,
  verified: number | undefined,
  about: { params: Record<string, string>; body: unknown },
) {
  const token = tokenHeader(req.headers.token);
  const { store, room } = await storeOfToken(deps.store, deps.rooms, token);
  const auth = await authorizeToken(store, route, token, verified, deps.onLostToken);
  return { auth, checkRoom: () => checkTokenRoom(deps.rooms, route, about, room) };
}

/** A read-model route: the forward's token checks, then the model's answer, or MISS (forwarded) while it is not built. */
function readModelImpl(param: string, read: (reader: SeatMapReader, id: number) => Promise<unknown>): HotImpl {
  return {
    accepts: hasNoBody,
    async work(deps, req, ids, record, route) {
      const { seatMap, store } = deps;
      if (!seatMap || !store || !deps.fallback) return MISS;
      const verified = await deps.identity.verifiedUser(req);
      const { auth, checkRoom } = await checkToken({ ...deps, store }, req, route, verified, { params: { [param]: ids![1] }, body: {} });
      record.userId = auth.userId;
      await checkRoom();
      const answer = await read(seatMap, Number(ids![1]));
      return answer ?? MISS;
    },
  };
}

/** The `:param` names of an Express path, in order (the path match's groups, see pathPattern). */
const paramNames = (expressPath: string): string[] => [...expressPath.matchAll(/:(\w+)/g)].map((m) => m[1]);

/**
 * Any booking route of the table (but the read models' answers, above): what Express's identity
 * step does (the bearer, then the named user bound to the verified one), then the very forward
 * Express's handler runs (forward-routes.ts: the token, the room, the seat gate and single
 * flight, the hold caps, the Forwarder), which writes booking's answer itself. A hold of a seat
 * already claimed is refused there, before booking, as before. Routes with a body take a plain
 * JSON one of some bytes (an empty one, which the identity step completes in jwt, is Express's),
 * the others none at all.
 */
function forwardImpl(route: GatewayRoute): HotImpl {
  const names = paramNames(route.path);
  const hasBody = route.body !== undefined;
  return {
    accepts: hasBody
      ? (req) => isPlainJson(req) && req.headers["content-length"] !== "0"
      : // a DELETE with a Content-Length: express.json would read a JSON one and the forward send it on
        (req) => hasNoBody(req) && (route.method === "get" || req.headers["content-length"] === undefined),
    async work(deps, req, ids, record, _route, res) {
      if (!deps.forward) return MISS;
      let body = hasBody ? await readJson(req) : undefined;
      const params: Record<string, string> = {};
      for (let i = 0; i < names.length; i++) params[names[i]] = ids![i + 1];
      let verified: number | undefined;
      if (deps.identity.mode === "jwt" && route.verifiedUser) {
        verified = await deps.identity.verifiedUser(req);
        if (route.userAt === "body" && body === undefined) body = {}; // a bodyless request names nobody: the verified user
        bindUser(route, verified, { params, body });
      }
      const { method = "", url = "", headers } = req;
      await deps.forward(route)(
        { method, url, headers, params, body, id: record.reqId, verifiedUserId: verified, incoming: req, record },
        res,
      );
      return ANSWERED;
    },
  };
}

// (`me` in a path, AUTH_MODE=jwt, is no id: the matcher leaves it to Express, which serves the alias)
const HOT_IMPLS: Partial<Record<RouteName, HotImpl>> = {
  freeSeats: readModelImpl("concertDetailId", (reader, concertDetailId) => reader.freeSeats(concertDetailId)),
  concertDates: readModelImpl("concertId", (reader, concertId) => reader.dates(concertId)),
  pollToken: {
    async work(deps, req, ids, record, route) {
      bindUser(route, await deps.identity.verifiedUser(req), { params: { userId: ids![1] } });
      const userId = Number(ids![1]); // the path's one param, :userId
      record.userId = userId;
      return deps.queue.tokenView(userId, tokenHeader(req.headers.token));
    },
  },
  issueToken: {
    accepts: isPlainJson,
    async work(deps, req, _ids, record, route) {
      const body = await readJson(req);
      const verified = await deps.identity.verifiedUser(req);
      bindUser(route, verified, { body });
      await deps.limiter.consume(req);
      if (verified !== undefined) await deps.userLimiter?.consumeKey(String(verified));
      const { userId, concertId } = parseOr400(ROUTES.issueToken.body, body);
      record.userId = userId;
      return deps.queue.issueToken(userId, issueProof(req.headers, verified), concertId);
    },
  },
};

/** One hot route, compiled once at start: an exact path, or a pattern whose groups are the ids. */
interface HotMatcher extends HotPath {
  route: GatewayRoute;
  impl: HotImpl;
}

/** Served on the hot path: the queue routes and, in their canonical forms, every booking route (the read models' answered here). */
export const isHot = (route: GatewayRoute): boolean => route.served === "hot" || route.served === "booking";

/** The table's "hot" routes by HTTP method. Throws at start if a hot route has no hot form here. */
export function compileHotRoutes(table: readonly GatewayRoute[] = ROUTE_TABLE): Map<string, HotMatcher[]> {
  const byMethod = new Map<string, HotMatcher[]>();
  for (const route of table) {
    if (!isHot(route)) continue;
    const impl = HOT_IMPLS[route.name] ?? (route.served === "booking" ? forwardImpl(route) : undefined);
    if (!impl) throw new Error(`route ${route.name} is served "hot" but hot-routes.ts has no hot form of it`);
    const hasParams = route.path.includes(":");
    const method = route.method.toUpperCase();
    const list = byMethod.get(method) ?? [];
    list.push({ exact: hasParams ? null : route.path, pattern: hasParams ? pathPattern(route.path) : null, route, impl });
    byMethod.set(method, list);
  }
  return byMethod;
}

/**
 * The routes every waiting client calls, thousands of times a second during an on-sale (the
 * route table's "hot" entries: the poll `GET /api/users/{id}/token` and the issue
 * `POST /api/users/token`). They are served here, on plain node:http in front of Express,
 * because Express's per-request machinery alone costs more CPU than the whole poll (see
 * docs/BENCHMARKS.md, scenario 1). Admitted users' requests are served here too (issue 16):
 * the seat map and the dates from booking's read model (the table's `readModel` entries; a
 * model not built yet is handed to Express, `fallback`), and every other "booking" route,
 * forwarded by the same logic Express's forward handler runs (forward-routes.ts, the seat gate's
 * refusals and the hold caps included), the Forwarder writing booking's answer. Only the
 * canonical form of each request is taken: numeric ids in range (no `me`), and for a route with
 * a body a JSON one with a non-zero Content-Length within the limit and no Content-Encoding,
 * for one without none at all. Anything else (returns false) goes on to Express, which serves
 * the same routes with the same handlers and answers every odd form (405s, HEAD, encodings,
 * chunked bodies, the `me` alias) as before. Answers are the same as Express's: envelope,
 * status, x-request-id, Retry-After, Location, the log line (at the table's level, with the
 * token's user as Express logs it) and the latency histogram (under the table's path, with the
 * status written).
 */
export function hotQueueRoutes(given: HotRouteDeps, table: readonly GatewayRoute[] = ROUTE_TABLE): Handler {
  const byMethod = compileHotRoutes(table);
  // each route's forward built once, not per request
  const forwards = new Map<GatewayRoute, ForwardRoute>();
  const forwardOf = given.forward;
  const forward =
    forwardOf &&
    ((route: GatewayRoute) => {
      let f = forwards.get(route);
      if (f === undefined) forwards.set(route, (f = forwardOf(route)));
      return f;
    });
  const deps: HotRouteDeps = { ...given, forward };
  return (req, res) => {
    const match = matchHotPath(byMethod, req);
    if (match === null) return false;
    const { route: h, ids } = match;
    if (h.impl.accepts && !h.impl.accepts(req)) return false;
    serve(deps, req, res, h, ids);
    return true;
  };
}

function serve(deps: HotRouteDeps, req: IncomingMessage, res: ServerResponse, h: HotMatcher, ids: RegExpExecArray | null): void {
  const started = process.hrtime.bigint();
  const reqId = requestId(req);
  const record: HotRecord = { reqId, userId: undefined };
  // before any work, as Express's observeRequests: a forward's answer is written by the Forwarder
  res.setHeader("x-request-id", reqId);
  const recordAs = (status: number) =>
    recordRequest(
      deps.logger,
      deps.metrics,
      { reqId, method: req.method, route: h.route.path, url: req.url ?? "", status, started, userId: record.userId },
      h.route.successLog,
    );
  const finish = (status: number, body: unknown, retryAfterSec?: number, headers?: Record<string, string>) => {
    sendJson(res, status, body, reqId, retryAfterSec, headers);
    recordAs(status);
  };
  h.impl.work(deps, req, ids, record, h.route, res).then(
    (result) => {
      if (result === MISS) deps.fallback!(req, res);
      else if (result === ANSWERED) recordAs(res.statusCode);
      else finish(200, ok(result));
    },
    (err) => {
      if (res.headersSent) {
        // failed after booking's answer went out (e.g. Redis, settling a hold's places): as
        // Express's errorHandler, end the connection; the answer is logged if it got out whole
        req.socket.destroy();
        if (res.writableFinished) recordAs(res.statusCode);
        return;
      }
      if (res.destroyed) return;
      const answer = errorAnswer(err, deps.logger, reqId, { onDependencyError: deps.onDependencyError });
      finish(answer.status, answer.body, answer.retryAfterSec, answer.headers);
    },
  );
}
