import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "pino";
import { AppError, DependencyError, type ErrorCode } from "./errors";

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface Envelope<T> {
  result: T | null;
  error: ErrorBody | null;
}

export function ok<T>(result: T): Envelope<T> {
  return { result, error: null };
}

export function fail(code: string, message: string, details?: Record<string, unknown>): Envelope<never> {
  return { result: null, error: details ? { code, message, details } : { code, message } };
}

/** 404 for any route nobody serves, in the envelope. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(fail("NOT_FOUND", `No route for ${req.method} ${req.path}`));
};

// body-parser errors carry a `type`; map them to clear 4xx codes.
const BODY_ERRORS: Record<string, [number, ErrorCode, string]> = {
  "entity.parse.failed": [400, "VALIDATION_FAILED", "Request body is not valid JSON"],
  "entity.too.large": [413, "PAYLOAD_TOO_LARGE", "Request body is too large"],
  "encoding.unsupported": [415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content encoding"],
  "charset.unsupported": [415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported charset"],
  "request.aborted": [400, "VALIDATION_FAILED", "Request aborted"],
  "request.size.invalid": [400, "VALIDATION_FAILED", "Request size did not match Content-Length"],
};

/**
 * The error express.json answers for a body of the given body-parser type, as an AppError, for
 * code that reads bodies itself (the gateway's hot routes) and must answer the same.
 */
export function bodyError(type: "entity.parse.failed"): AppError {
  const [status, code, message] = BODY_ERRORS[type];
  return new AppError(code, message, undefined, status);
}

export interface ErrorHooks {
  /** called when a request failed because a dependency was down (for metrics) */
  onDependencyError?: (dependency: string) => void;
}

/** The one error middleware: answers with {@link errorAnswer}. */
export function errorHandler(logger: Logger, hooks: ErrorHooks = {}): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const answer = errorAnswer(err, logger, (req as { id?: unknown }).id, hooks);
    res.locals.errorCode = answer.code;
    if (answer.retryAfterSec !== undefined) res.setHeader("Retry-After", String(answer.retryAfterSec));
    for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
    res.status(answer.status).json(answer.body);
  };
}

export interface ErrorAnswer {
  status: number;
  code: string;
  body: Envelope<never>;
  /** seconds for the Retry-After header (503s, 429s) */
  retryAfterSec?: number;
  /** the AppError's own headers (e.g. WWW-Authenticate) */
  headers?: Record<string, string>;
}

/**
 * What a failed request answers: AppError → its status and code; a body-parser error → its 4xx;
 * a dependency failure → 503 with Retry-After; anything else → 500, logged with the request id,
 * never a stack to the client. Express's error middleware and the gateway's hot routes both use it.
 */
export function errorAnswer(err: unknown, logger: Logger, reqId: unknown, hooks: ErrorHooks = {}): ErrorAnswer {
  if (err instanceof DependencyError) {
    hooks.onDependencyError?.(err.dependency);
    const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
    logger.warn({ reqId, dependency: err.dependency, err: { message: cause?.message, code: cause?.code } }, "dependency unavailable");
  } else if (err instanceof AppError && err.status === 503 && typeof err.details?.dependency === "string") {
    // a 503 that names no dependency (a full instance, e.g. the stream cap) is not a dependency error
    hooks.onDependencyError?.(err.details.dependency);
  }
  if (err instanceof AppError) {
    const retryAfterSec = err.retryAfterSec ?? (err.status === 503 ? 1 : undefined);
    return { status: err.status, code: err.code, body: fail(err.code, err.message, err.details), retryAfterSec, headers: err.headers };
  }
  const e = (err ?? {}) as { type?: unknown; status?: unknown; message?: unknown; code?: unknown };
  const parserError = typeof e.type === "string" ? BODY_ERRORS[e.type] : undefined;
  if (parserError) {
    const [status, code, message] = parserError;
    return { status, code, body: fail(code, message) };
  }
  if (typeof e.status === "number" && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: "VALIDATION_FAILED", body: fail("VALIDATION_FAILED", "Malformed request") };
  }
  logger.error({ reqId, err }, "unhandled error");
  return { status: 500, code: "INTERNAL", body: fail("INTERNAL", "Internal error") };
}
