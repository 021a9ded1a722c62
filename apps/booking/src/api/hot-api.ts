import type { IncomingMessage, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import type { Cluster, Redis } from "ioredis";
import {
  PASSPORT_HEADER,
  ROUTES,
  bodyDigest,
  errorAnswer,
  hasNoBody,
  isPlainJson,
  matchHotPath,
  ok,
  parseJsonBody,
  pathPattern,
  readBody,
  recordRequest,
  requestId,
  sendJson,
  type HotPath,
  type Logger,
  type Metrics,
} from "@concert/shared";
import type { BookingMetrics } from "../metrics";
import { checkPassport, isRead, markPassportUsed } from "./passport";
import { runRoute, type ApiHandlers, type ApiRoute, type BookingRouteName } from "./routes";

export interface HotApiDeps {
  /** the routes' handlers, the very ones Express runs (api/routes.ts) */
  handlers: ApiHandlers;
  passportSecret: string;
  /** where passportOnce marks a write's passport used */
  redis: Redis | Cluster;
  redisKeyPrefix: string;
  logger: Logger;
  metrics: Metrics;
  countOutcome: BookingMetrics["countOutcome"];
  onDependencyError: (dependency: string) => void;
  /** passportOnce's clock (how long a used passport stays marked) */
  now?: () => number;
}

/** Whether the request was taken (answered here); false: Express serves it. */
export type HotApi = (req: IncomingMessage, res: ServerResponse) => boolean;

/** One route, compiled once at start: an exact path, or a pattern whose groups are the `:param` ids. */
interface HotMatcher extends HotPath {
  name: BookingRouteName;
  /** the Express path: the histogram's and the log line's route label */
  path: string;
  paramNames: string[];
  /** a route with a body schema reads a JSON body; the others take requests without one */
  withBody: boolean;
  withQuery: boolean;
  route: ApiRoute;
}

// the label Express gives a request refused before its router matched (a bad body, a bad passport)
const UNMATCHED = "unmatched";

function compile(handlers: ApiHandlers): Map<string, HotMatcher[]> {
  const byMethod = new Map<string, HotMatcher[]>();
  for (const name of Object.keys(handlers) as BookingRouteName[]) {
    const route = ROUTES[name];
    const paramNames = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const method = route.method.toUpperCase();
    const list = byMethod.get(method) ?? [];
    list.push({
      name,
      path: route.path,
      exact: paramNames.length ? null : route.path,
      pattern: paramNames.length ? pathPattern(route.path) : null,
      paramNames,
      withBody: "body" in route,
      withQuery: "query" in route,
      route: handlers[name],
    });
    byMethod.set(method, list);
  }
  return byMethod;
}

/**
 * Booking's public /api routes (the shared ROUTES entries booking serves, everything the gateway
 * forwards) on plain node:http in front of Express, because Express's per-request machinery
 * (middleware chain, router, res.json) cost more CPU than a balance read itself (issue 16,
 * docs/BENCHMARKS.md). Only the canonical form of each request is taken: the method and path of
 * a route with its ids in range, and a JSON body with a Content-Length within the limit (routes
 * that read a body) or no body at all (the others). Anything else returns false and Express
 * serves it as before: other forms of these routes, the internal routes, health, metrics, 404s.
 *
 * A request taken here goes through what Express's chain does, in its order: the body bytes are
 * read and digested (digestBody), the passport is checked against method, URL and digest
 * (requirePassport), a write's passport is marked used (passportOnce: awaited, or handed pending
 * to a route that marks it in its handler), then the route, through the same runRoute Express
 * uses (api/routes.ts). The answers are Express's: envelope, status,
 * x-request-id, Retry-After and the error envelope (errorAnswer), one log line and the latency
 * histogram (recordRequest, labelled with the route's Express path, or "unmatched" for a
 * request refused before Express's router would have matched it), and the hold and payment
 * outcomes (countOutcome).
 */
export function hotApiRoutes(deps: HotApiDeps): HotApi {
  const byMethod = compile(deps.handlers);
  return (req, res) => {
    const match = matchHotPath(byMethod, req);
    if (match === null) return false;
    const { route: h, ids, query } = match;
    if (!(h.withBody ? isPlainJson(req) : hasNoBody(req))) return false;
    serve(deps, req, res, h, ids, query);
    return true;
  };
}

/** What the answer's log line and metrics need, filled in as the request gets through its checks. */
interface HotRecord {
  route: string;
  name?: BookingRouteName;
  userId?: number;
}

function serve(deps: HotApiDeps, req: IncomingMessage, res: ServerResponse, h: HotMatcher, ids: RegExpExecArray | null, query: string) {
  const started = process.hrtime.bigint();
  const reqId = requestId(req);
  const method = req.method as string;
  const url = req.url as string;
  const record: HotRecord = { route: UNMATCHED };
  const finish = (status: number, body: unknown, errorCode: string, retryAfterSec?: number, headers?: Record<string, string>) => {
    sendJson(res, status, body, reqId, retryAfterSec, headers);
    recordRequest(deps.logger, deps.metrics, { reqId, method, route: record.route, url, status, started, userId: record.userId });
    deps.countOutcome(record.name, status, errorCode);
  };
  const work = async () => {
    const bytes = h.withBody ? await readBody(req) : undefined;
    const body = bytes === undefined ? undefined : parseJsonBody(bytes);
    const passport = checkPassport(deps.passportSecret, req.headers[PASSPORT_HEADER], method, url, bodyDigest(bytes));
    record.userId = passport.userId;
    const mark = isRead(method) ? undefined : markPassportUsed(deps.redis, deps.redisKeyPrefix, passport, deps.now);
    // as Express: a refused mark awaited before the route is "unmatched"; one the route takes pending is the route's
    if (mark && !h.route.marksPassportInHandler) await mark;
    record.route = h.path;
    record.name = h.name;
    const params: Record<string, string> = {};
    h.paramNames.forEach((name, i) => (params[name] = ids![i + 1]));
    return runRoute(h.route, { params, query: h.withQuery ? parseQuery(query) : {}, body, headers: req.headers, passport }, mark);
  };
  work().then(
    (answer) => finish(answer.status, ok(answer.result), ""),
    (err: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const answer = errorAnswer(err, deps.logger, reqId, { onDependencyError: deps.onDependencyError });
      finish(answer.status, answer.body, answer.code, answer.retryAfterSec, answer.headers);
    },
  );
}
