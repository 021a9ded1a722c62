import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ID_DIGITS,
  MAX_ID,
  ROUTES,
  bodyError,
  errorAnswer,
  ok,
  parseOr400,
  recordRequest,
  requestId,
  type Logger,
  type Metrics,
  type RouteName,
} from "@concert/shared";
import { bindUser, type Identity } from "../auth/identity";
import type { QueueService } from "../queue/queue-service";
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
}

/** Largest JSON body, bytes: here and in express.json on the Express side. */
export const JSON_BODY_LIMIT = 16 * 1024;
const JSON_TYPE = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

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

// (`me` in a path, AUTH_MODE=jwt, is no id: the matcher leaves it to Express, which serves the alias)
const HOT_IMPLS: Partial<Record<RouteName, HotImpl>> = {
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

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** An Express path with `:param` ids as an anchored RegExp (every path param of the table is an id). */
export function pathPattern(expressPath: string): RegExp {
  const parts = expressPath.split(/:\w+/);
  return new RegExp(`^${parts.map(escapeRegExp).join(`(${ID_DIGITS})`)}$`);
}

/** The table's "hot" routes by HTTP method. Throws at start if a hot route has no hot form here. */
export function compileHotRoutes(table: readonly GatewayRoute[] = ROUTE_TABLE): Map<string, HotMatcher[]> {
  const byMethod = new Map<string, HotMatcher[]>();
  for (const route of table) {
    if (route.served !== "hot") continue;
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

/** Every id the path match captured is a database id (larger ones are Express's 400 to answer). */
function idsInRange(m: RegExpExecArray): boolean {
  for (let i = 1; i < m.length; i++) if (Number(m[i]) > MAX_ID) return false;
  return true;
}

/**
 * The routes every waiting client calls, thousands of times a second during an on-sale (the
 * route table's "hot" entries: the poll `GET /api/users/{id}/token` and the issue
 * `POST /api/users/token`). They are served here, on plain node:http in front of Express,
 * because Express's per-request machinery alone costs more CPU than the whole poll (see
 * docs/BENCHMARKS.md, scenario 1). Only the canonical form of each request is taken: a numeric
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
    const json = JSON.stringify(body);
    res.setHeader("x-request-id", reqId);
    if (retryAfterSec !== undefined) res.setHeader("Retry-After", String(retryAfterSec));
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(json) });
    res.end(json);
    recordRequest(
      deps.logger,
      deps.metrics,
      { reqId, method: req.method, route: h.route.path, url: req.url ?? "", status, started, userId: record.userId },
      h.route.successLog,
    );
  };
  h.impl.work(deps, req, ids, record, h.route).then(
    (result) => finish(200, ok(result)),
    (err) => {
      if (res.headersSent || res.destroyed) return;
      const answer = errorAnswer(err, deps.logger, reqId, { onDependencyError: deps.onDependencyError });
      finish(answer.status, answer.body, answer.retryAfterSec, answer.headers);
    },
  );
}

function isPlainJson(req: IncomingMessage): boolean {
  const h = req.headers;
  const length = h["content-length"];
  return (
    JSON_TYPE.test(h["content-type"] ?? "") &&
    (h["content-encoding"] === undefined || h["content-encoding"] === "identity") &&
    h["transfer-encoding"] === undefined &&
    length !== undefined &&
    Number(length) <= JSON_BODY_LIMIT
  );
}

/** The body as express.json({ strict: true }) reads it: an object or array, {} when empty. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("end", () => {
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString("utf8").trim();
      if (text === "") return resolve({});
      if (text[0] !== "{" && text[0] !== "[") return reject(bodyError("entity.parse.failed"));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(bodyError("entity.parse.failed"));
      }
    });
  });
}
