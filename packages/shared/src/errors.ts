/** Every error code a client can see, with the HTTP status it travels with. */
export const ErrorCodes = {
  VALIDATION_FAILED: 400,
  AMOUNT_MISMATCH: 400,
  TOKEN_INVALID: 401,
  PASSPORT_INVALID: 401,
  TOKEN_USER_MISMATCH: 403,
  TOKEN_NOT_ACTIVE: 403,
  NOT_OWNER: 403,
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
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An error the client is meant to see: a code, a message, and the status it maps to. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    status?: number,
  ) {
    super(message);
    this.name = "AppError";
    this.status = status ?? ErrorCodes[code];
  }
}

/** A dependency (Redis, Postgres, an upstream service) could not be reached. */
export class DependencyError extends AppError {
  constructor(
    readonly dependency: string,
    readonly retryAfterSec = 1,
  ) {
    super("SERVICE_UNAVAILABLE", `${dependency} is unavailable, try again shortly`, { dependency });
    this.name = "DependencyError";
  }
}

const REDIS_DOWN = [
  "Connection is closed",
  "Stream isn't writeable",
  "MaxRetriesPerRequestError",
  "Reached the max retries per request limit",
  "Command timed out",
  "connect ECONNREFUSED",
  "read ECONNRESET",
  "Socket closed unexpectedly",
  "LOADING",
  "CLUSTERDOWN",
  "READONLY",
];
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "57P01", "57P03"]);
// Prisma: can't reach server, timeout, server closed the connection, pool timeout; driver adapter errors.
const PRISMA_DOWN_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);

/**
 * Recognises the errors that mean "a dependency is down" rather than "this request is wrong",
 * so that they become 503 + Retry-After instead of 500.
 */
export function dependencyOf(err: unknown): string | null {
  if (err instanceof DependencyError) return err.dependency;
  if (!err || typeof err !== "object") return null;
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown; constructor?: { name?: string } };
  const name = e.name ?? e.constructor?.name ?? "";
  const message = String(e.message ?? "");
  if (name === "MaxRetriesPerRequestError" || REDIS_DOWN.some((m) => message.includes(m))) {
    return /prisma|postgres/i.test(message) ? "postgres" : "redis";
  }
  if (name.startsWith("PrismaClientInitializationError") || (e.code && PRISMA_DOWN_CODES.has(e.code))) return "postgres";
  if (name === "DriverAdapterError" || /Can't reach database server|Connection terminated|connection timeout|timeout exceeded when trying to connect|terminating connection/i.test(message)) {
    return "postgres";
  }
  if (name === "ExecutionError" || name === "ResourceLockedError") return "redis";
  if (e.code && NETWORK_CODES.has(e.code)) return "network";
  if (e.cause && e.cause !== err) return dependencyOf(e.cause);
  return null;
}
