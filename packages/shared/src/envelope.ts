import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import { AppError, dependencyOf } from "./errors";

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

export function sendError(res: Response, err: AppError, retryAfterSec?: number): void {
  res.locals.errorCode = err.code;
  if (retryAfterSec !== undefined) res.setHeader("Retry-After", String(retryAfterSec));
  res.status(err.status).json(fail(err.code, err.message, err.details));
}

/** 404 for any route nobody serves, in the envelope. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(fail("NOT_FOUND", `No route for ${req.method} ${req.path}`));
};

// body-parser errors carry a `type`; map them to clear 4xx codes.
const BODY_ERRORS: Record<string, [number, string, string]> = {
  "entity.parse.failed": [400, "VALIDATION_FAILED", "Request body is not valid JSON"],
  "entity.too.large": [413, "PAYLOAD_TOO_LARGE", "Request body is too large"],
  "encoding.unsupported": [415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported content encoding"],
  "charset.unsupported": [415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported charset"],
  "request.aborted": [400, "VALIDATION_FAILED", "Request aborted"],
  "request.size.invalid": [400, "VALIDATION_FAILED", "Request size did not match Content-Length"],
};

/**
 * The one error middleware: AppError → its status and code; a dependency failure → 503 with
 * Retry-After; anything else → 500, logged with the request id, never a stack to the client.
 */
export interface ErrorHooks {
  /** called when a request failed because a dependency was down (for metrics) */
  onDependencyError?: (dependency: string) => void;
}

export function errorHandler(logger: Logger, hooks: ErrorHooks = {}): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (err instanceof AppError) {
      if (err.status === 503) hooks.onDependencyError?.(String(err.details?.dependency ?? "unknown"));
      const retry = err.status === 503 ? ((err as { retryAfterSec?: number }).retryAfterSec ?? 1) : undefined;
      sendError(res, err, retry);
      return;
    }
    const bodyError = typeof err?.type === "string" ? BODY_ERRORS[err.type] : undefined;
    if (bodyError) {
      const [status, code, message] = bodyError;
      res.locals.errorCode = code;
      res.status(status).json(fail(code, message));
      return;
    }
    const dependency = dependencyOf(err);
    if (dependency) {
      hooks.onDependencyError?.(dependency);
      res.locals.errorCode = "SERVICE_UNAVAILABLE";
      logger.warn({ reqId: (req as { id?: unknown }).id, dependency, err: { message: err?.message, code: err?.code } }, "dependency unavailable");
      res.setHeader("Retry-After", "1");
      res.status(503).json(fail("SERVICE_UNAVAILABLE", `${dependency} is unavailable, try again shortly`, { dependency }));
      return;
    }
    if (typeof err?.status === "number" && err.status >= 400 && err.status < 500) {
      res.status(err.status).json(fail("VALIDATION_FAILED", "Malformed request"));
      return;
    }
    logger.error({ reqId: (req as { id?: unknown }).id, err }, "unhandled error");
    res.status(500).json(fail("INTERNAL", "Internal error"));
  };
}
