import type { Duplex } from "node:stream";

/** Every error code a client can see, with the HTTP status it travels with. */
export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  AMOUNT_MISMATCH: 400,
  TOKEN_INVALID: 401,
  PASSPORT_INVALID: 401,
  /** AUTH_MODE=jwt: no `Authorization: Bearer <JWT>` on a user route */
  AUTH_REQUIRED: 401,
  /** AUTH_MODE=jwt: the bearer is not a valid token of the identity provider (the reason is logged, never answered) */
  AUTH_INVALID: 401,
  /** AUTH_MODE=jwt: the request names a user other than the verified one */
  USER_MISMATCH: 403,
  TOKEN_USER_MISMATCH: 403,
  TOKEN_NOT_ACTIVE: 403,
  /** the queue token is of another room: a concert room's token works only for its concert, a general one only for concerts without a room */
  TOKEN_WRONG_CONCERT: 403,
  NOT_OWNER: 403,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  SEAT_UNAVAILABLE: 409,
  HOLD_LIMIT: 409,
  HOLD_EXPIRED: 409,
  ALREADY_PAID: 409,
  INSUFFICIENT_POINTS: 409,
  BALANCE_LIMIT: 409,
  IDEMPOTENCY_CONFLICT: 409,
  ALREADY_QUEUED: 409,
  /** a concert room before its pre-queue window: details.opensAt */
  SALE_NOT_OPEN: 409,
  /** a concert room after saleClosesAt */
  SALE_CLOSED: 409,
  /** a concert room whose future dates have no seat free nor held */
  SOLD_OUT: 409,
  /** cancel: the reservation is already CANCELLED (a retry with the same Idempotency-Key gets the first answer instead) */
  ALREADY_CANCELLED: 409,
  /** cancel: the reservation was never paid (HELD: release it instead; EXPIRED: nothing to give back) */
  NOT_PAID: 409,
  /** cancel: less than CANCEL_DEADLINE_SEC before the performance starts */
  CANCEL_DEADLINE_PASSED: 409,
  /** DELETE /api/reservations/{id} of a reservation that is no longer a live hold (details.status says what it is) */
  NOT_HELD: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/**
 * An error the client is meant to see: a code, a message, and the status it maps to. A client
 * error (4xx) is an answer, not a fault: it is never logged with a stack, so none is captured
 * (capturing one is most of what refusing, say, a loser of a rush for one seat would cost).
 */
export class AppError extends Error {
  readonly status: number;
  /** when set, the answer carries `Retry-After` (seconds); 503s default to 1 */
  retryAfterSec?: number;
  /** more headers the answer carries (e.g. `WWW-Authenticate` on a 401 of the bearer) */
  headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    status?: number,
  ) {
    const answer = status ?? ErrorCodes[code];
    const stackTraceLimit = Error.stackTraceLimit;
    if (answer < 500) Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.name = "AppError";
    this.status = answer;
  }
}

/** "identity": the identity provider's key set (AUTH_JWKS_URL), when no key was ever loaded from it */
export type Dependency = "redis" | "postgres" | "booking" | "identity";

/**
 * A dependency (Redis, Postgres, an upstream service) could not be reached: 503 with Retry-After.
 * Thrown by the adapter that saw the failure (the Redis client wrapper, the Prisma client, the
 * forwarder), with the driver's error as `cause`, so nothing downstream parses driver messages.
 */
export class DependencyError extends AppError {
  constructor(
    readonly dependency: Dependency,
    options: { cause?: unknown; retryAfterSec?: number } = {},
  ) {
    super("SERVICE_UNAVAILABLE", `${dependency} is unavailable, try again shortly`, { dependency });
    this.name = "DependencyError";
    this.retryAfterSec = options.retryAfterSec ?? 1;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EHOSTUNREACH",
]);

/**
 * Which dependency a failure says is down, or null when it is not a dependency failure. Only
 * what an adapter marked counts: the Redis calls (redisCall), booking's Prisma client and the
 * forwarder throw DependencyError with the driver's error as its cause, so nothing here reads
 * driver messages.
 */
export function dependencyOf(err: unknown): Dependency | null {
  return err instanceof DependencyError ? err.dependency : null;
}

/**
 * `clientError` handler for node:http servers: a request Node's parser refuses (CRLF or NUL in a
 * header, a bad Content-Length, Content-Length together with Transfer-Encoding, oversized
 * headers) still gets the error envelope, not a bare "400 Bad Request".
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "PAYLOAD_TOO_LARGE", "Request headers are too large"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "VALIDATION_FAILED", "Request took too long to arrive"]
        : [400, "Bad Request", "VALIDATION_FAILED", "Malformed HTTP request"];
  const body = JSON.stringify({ result: null, error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
