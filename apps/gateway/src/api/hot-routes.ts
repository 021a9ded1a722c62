import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ROUTES,
  errorAnswer,
  hasNoBody,
  idsInRange,
  isPlainJson,
  ok,
  parseOr400,
  pathPattern,
  readJson,
  recordRequest,
  requestId,
  sendJson,
  type Logger,
  type Metrics,
  type RouteName,
} from "@concert/shared";
import { bindUser, type Identity } from "../auth/identity";
import type { SeatMapReader } from "../forward/seat-map-reader";
import type { SeatSingleFlight } from "../forward/seat-single-flight";
import type { QueueService } from "../queue/queue-service";
import type { QueueStore } from "@concert/shared";
import {
  assertNamedUser,
  authorizeToken,
  checkTokenRoom,
  claimedSeats,
  storeOfToken,
  type EarlySeatRefusal,
  type RoomChecks,
} from "./forward-routes";
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
  /** the seat gate: a hold of a seat already claimed is refused here, every other one goes on to Express */
  seatGate?: EarlySeatRefusal;
  /** this instance's holds in flight per seat (forward-routes.ts claims them): one that won refuses the holds waiting on it here */
  singleFlight?: SeatSingleFlight;
  /** serves a request the hot path gave up on after starting it (a read model not built yet): Express */
  fallback?: (req: IncomingMessage, res: ServerResponse) => void;
}

/** What a hot form's work returns when it cannot answer after all: the request goes on to `fallback`. */
const MISS = Symbol("miss");

// the canonical body forms and their reading are shared with booking's hot routes
export { JSON_BODY_LIMIT, pathPattern } from "@concert/shared";

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What the log line and the work of one hot request share; the work fills in the user id. */
interface HotRecord {
  userId?: number;
}

/**
 * The hot form of one route. `accepts` says whether this request is in the canonical form the hot
 * path takes (else Express serves it); `work` is async, so whatever it throws becomes the answer.
 * `ids` is the path match: `ids[1]…` are the path's `:param` ids, in order, known to be in range.
 */
interface HotImpl {
  accepts?: (req: IncomingMessage) => boolean;
  work: (deps: HotRouteDeps, req: IncomingMessage, ids: RegExpExecArray | null, record: HotRecord, route: GatewayRoute) => Promise<unknown>;
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

/**
 * A hold (the table's seatGate routes): in a rush for a seat almost every hold is of a seat
 * already claimed, refused here after the forward's checks, in their order (the body, the bearer,
 * the token, the named user, then the gate) with the 409 Express would give. Any other hold (a
 * free seat, a retry under an Idempotency-Key, a body booking must refuse) goes on to Express
 * with the body already read (body-parser leaves a read request's `req.body` alone), which makes
 * the whole forward as before: single flight, hold caps, booking.
 */
const seatGateImpl: HotImpl = {
  accepts: (req) => isPlainJson(req) && req.headers["content-length"] !== "0",
  async work(deps, req, _ids, record, route) {
    const body = await readJson(req);
    (req as IncomingMessage & { body?: unknown }).body = body;
    const { store } = deps;
    if (!deps.seatGate || !store || !deps.fallback || req.headers["idempotency-key"] !== undefined) return MISS;
    const verified = await deps.identity.verifiedUser(req);
    bindUser(route, verified, { body });
    const { auth, checkRoom } = await checkToken({ ...deps, store }, req, route, verified, { params: {}, body });
    record.userId = auth.userId;
    assertNamedUser(body, auth.userId);
    await checkRoom();
    const claimed = await claimedSeats(deps.seatGate, body, deps.singleFlight);
    if (claimed?.refusal) throw claimed.refusal;
    return MISS;
  },
};

// (`me` in a path, AUTH_MODE=jwt, is no id: the matcher leaves it to Express, which serves the alias)
const HOT_IMPLS: Partial<Record<RouteName, HotImpl>> = {
  holdSeat: seatGateImpl,
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
interface HotMatcher {
  exact: string | null;
  pattern: RegExp | null;
  route: GatewayRoute;
  impl: HotImpl;
}

/** Served on the hot path: the queue routes, the read-model reads and the seat-gate refusals of holds. */
export const isHot = (route: GatewayRoute): boolean => route.served === "hot" || route.readModel !== undefined || route.seatGate === true;

/** The table's "hot" routes by HTTP method. Throws at start if a hot route has no hot form here. */
export function compileHotRoutes(table: readonly GatewayRoute[] = ROUTE_TABLE): Map<string, HotMatcher[]> {
  const byMethod = new Map<string, HotMatcher[]>();
  for (const route of table) {
    if (!isHot(route)) continue;
    const impl = HOT_IMPLS[route.name];
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
 * docs/BENCHMARKS.md, scenario 1). Admitted users' busiest requests are served here too (issue
 * 16): the seat map and the dates from booking's read model (the table's `readModel` entries),
 * and the refusal of a hold of a seat already claimed (its `seatGate` entries); whatever of those
 * the hot path cannot answer (a model not built, a hold that goes on to booking) it hands to
 * Express (`fallback`) after all. Only the canonical form of each request is taken: a numeric
 * user id, a JSON body with a Content-Length within the limit and no Content-Encoding. Anything
 * else (returns false) goes on to Express, which serves the same routes with the same
 * QueueService and answers every odd form (405s, encodings, chunked bodies) as before. Answers
 * are the same as Express's: envelope, status, x-request-id, Retry-After, the log line (at the
 * table's level) and the latency histogram (under the table's path).
 */
export function hotQueueRoutes(deps: HotRouteDeps, table: readonly GatewayRoute[] = ROUTE_TABLE): Handler {
  const byMethod = compileHotRoutes(table);
  return (req, res) => {
    const matchers = byMethod.get(req.method ?? "");
    if (matchers === undefined) return false;
    const url = req.url ?? "";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    for (const h of matchers) {
      let ids: RegExpExecArray | null = null;
      if (h.pattern !== null) {
        ids = h.pattern.exec(path);
        if (ids === null) continue;
        if (!idsInRange(ids)) return false; // Express answers the 400
      } else if (path !== h.exact) continue;
      if (h.impl.accepts && !h.impl.accepts(req)) return false;
      serve(deps, req, res, h, ids);
      return true;
    }
    return false;
  };
}

function serve(deps: HotRouteDeps, req: IncomingMessage, res: ServerResponse, h: HotMatcher, ids: RegExpExecArray | null): void {
  const started = process.hrtime.bigint();
  const reqId = requestId(req);
  const record: HotRecord = { userId: undefined };
  const finish = (status: number, body: unknown, retryAfterSec?: number, headers?: Record<string, string>) => {
    sendJson(res, status, body, reqId, retryAfterSec, headers);
    recordRequest(
      deps.logger,
      deps.metrics,
      { reqId, method: req.method, route: h.route.path, url: req.url ?? "", status, started, userId: record.userId },
      h.route.successLog,
    );
  };
  h.impl.work(deps, req, ids, record, h.route).then(
    (result) => (result === MISS ? deps.fallback!(req, res) : finish(200, ok(result))),
    (err) => {
      if (res.headersSent || res.destroyed) return;
      const answer = errorAnswer(err, deps.logger, reqId, { onDependencyError: deps.onDependencyError });
      finish(answer.status, answer.body, answer.retryAfterSec, answer.headers);
    },
  );
}
