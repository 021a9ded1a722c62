import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { parse as parseQuery } from "node:querystring";
import type { Request, RequestHandler } from "express";
import type { Logger } from "pino";
import { AppError } from "./errors";
import type { Metrics } from "./metrics";

const REQUEST_ID = /^[\w.:-]{1,128}$/;

declare module "express-serve-static-core" {
  interface Request {
    /** request id: the caller's `x-request-id` when well-formed, else a new UUID */
    id: string;
  }
}

const LOGGED_URL_MAX = 256;
const MASKED_PARAMS = new Set(["token"]);

/**
 * The URL for the log: cut to LOGGED_URL_MAX characters, with the value of every `token` query parameter
 * masked. A parameter is judged by its name as the apps' query parser (`querystring.parse`, Express's
 * "simple" parser) decodes it, since `?%74oken=` reaches the route as `token` too.
 */
export function logUrl(url: string): string {
  const short = url.length > LOGGED_URL_MAX ? url.slice(0, LOGGED_URL_MAX) : url;
  const q = short.indexOf("?");
  if (q < 0) return short;
  const params = short
    .slice(q + 1)
    .split("&")
    .map((param) => {
      const eq = param.indexOf("=");
      if (eq < 0) return param;
      const [name] = Object.keys(parseQuery(param));
      return name !== undefined && MASKED_PARAMS.has(name) ? `${param.slice(0, eq)}=***` : param;
    });
  return `${short.slice(0, q)}?${params.join("&")}`;
}

/** The matched route pattern (bounded label cardinality), or "unmatched". */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: string | string[] } | undefined)?.path;
  if (path === undefined) return "unmatched";
  return req.baseUrl + (Array.isArray(path) ? path.join("|") : String(path));
}

export interface RequestObservabilityOptions {
  /** requests to leave out of the log (still measured), e.g. health checks */
  quiet?: (req: Request) => boolean;
  /** log level of a successful (< 400) request; default "info" (4xx: info, 5xx: error) */
  successLevel?: (req: Request, route: string) => "info" | "debug";
}

/**
 * Gives every request an id (taken from `x-request-id` or generated, echoed back), and when it
 * finishes writes one JSON log line (request id, method, route, status, latency, user id) and
 * observes the latency histogram. Cheaper than pino-http, which makes two child loggers per
 * request (measured with bench/profile.mjs).
 */
export function observeRequests(logger: Logger, metrics: Metrics, options: RequestObservabilityOptions = {}): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    req.id = requestId(req);
    res.setHeader("x-request-id", req.id);
    res.once("finish", () => {
      const route = routeOf(req);
      const record = {
        reqId: req.id,
        method: req.method,
        route,
        url: req.originalUrl,
        status: res.statusCode,
        started,
        userId: res.locals.userId as unknown,
      };
      if (options.quiet?.(req)) metrics.httpDuration.observe({ method: req.method, route, status: res.statusCode }, secondsSince(started));
      else recordRequest(logger, metrics, record, options.successLevel?.(req, route) ?? "info");
    });
    next();
  };
}

/** The caller's `x-request-id` when well-formed, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

export interface RequestRecord {
  reqId: string;
  method: string | undefined;
  /** the route pattern (bounded label cardinality), or "unmatched" */
  route: string;
  url: string;
  status: number;
  /** process.hrtime.bigint() when the request arrived */
  started: bigint;
  userId?: unknown;
}

/**
 * A finished request: its latency into the histogram and one JSON log line (request id, method,
 * route, status, latency, user id) at `successLevel` when it succeeded, info for 4xx, error for 5xx.
 */
export function recordRequest(logger: Logger, metrics: Metrics, r: RequestRecord, successLevel: "info" | "debug" = "info"): void {
  const seconds = secondsSince(r.started);
  metrics.httpDuration.observe({ method: r.method, route: r.route, status: r.status }, seconds);
  const level = r.status >= 500 ? "error" : r.status >= 400 ? "info" : successLevel;
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      reqId: r.reqId,
      method: r.method,
      route: r.route,
      url: logUrl(r.url),
      status: r.status,
      ms: Math.round(seconds * 1e5) / 100,
      userId: r.userId,
    },
    "request completed",
  );
}

function secondsSince(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * Express middleware for routes behind a shared secret (the operator routes, /metrics): 401
 * UNAUTHORIZED without `Authorization: Bearer <token>`, 403 FORBIDDEN with another token. The
 * compare is over digests, so it takes the same time whatever the given token's length or content.
 */
export function requireBearer(token: string, variable: string, routes: string): RequestHandler {
  const expected = digest(token);
  return (req, _res, next) => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    if (!m) throw new AppError("UNAUTHORIZED", `${routes} need \`Authorization: Bearer <${variable}>\``);
    if (!timingSafeEqual(digest(m[1]), expected)) throw new AppError("FORBIDDEN", `Wrong ${variable}`);
    next();
  };
}
