import { AppError, DependencyError, SOCKET_ERROR_CODES } from "@concert/shared";

/** A write broke a unique index: the caller may know what that means (e.g. a concurrent request won). */
export class UniqueViolation extends Error {
  constructor(cause: unknown) {
    super("unique constraint violated", { cause });
    this.name = "UniqueViolation";
  }
}

// Prisma: can't reach server, timeout, server closed the connection, pool timeout, transaction
// closed under us.
const PRISMA_DOWN_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2028"]);
// Driver-adapter error kinds that mean "Postgres is unreachable", not "this query is wrong": a raw
// query on a dropped connection comes back as P2010 { kind: "ConnectionClosed" }.
const ADAPTER_DOWN_KINDS = new Set([
  "ConnectionClosed",
  "SocketTimeout",
  "DatabaseNotReachable",
  "TooManyConnections",
  "TransactionAlreadyClosed",
]);
// SQLSTATE classes 08 (connection exception), 53 (insufficient resources: too many connections, out
// of memory, disk full) and 57P0x (server shutting down, cannot connect now, database dropped): the
// server cannot serve anyone just now, whatever the query.
const PG_DOWN_STATE = /^(08|53|57P0)/;
// A FATAL (or PANIC) report ends the session: the server refused or dropped the connection. That is
// how a database that is not accepting connections answers a new one (55000 "object not in
// prerequisite state", which in an ERROR report means a wrong query instead).
const SESSION_ENDING = new Set(["FATAL", "PANIC"]);
// pg and pg-pool reject a lost or unobtainable connection with a plain Error whose message is all
// there is, and the driver adapter passes it on unchanged.
const PG_CONNECTION_LOST =
  /Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|connection timeout/i;

interface AdapterCause {
  kind?: string;
  originalCode?: string;
  severity?: string;
}
interface DriverError {
  name?: string;
  code?: unknown;
  message?: unknown;
  severity?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: { cause?: AdapterCause } };
}

/** A server report (pg's DatabaseError, or the adapter's cause of kind "postgres") that means Postgres cannot serve us now. */
function serverSaysDown(code: string | undefined, severity: unknown): boolean {
  return (code !== undefined && PG_DOWN_STATE.test(code)) || (typeof severity === "string" && SESSION_ENDING.has(severity));
}

function adapterCause(e: DriverError): AdapterCause | undefined {
  if (e.meta?.driverAdapterError?.cause) return e.meta.driverAdapterError.cause;
  if (e.name === "DriverAdapterError" && e.cause && typeof e.cause === "object") return e.cause;
  return undefined;
}

function meansPostgresIsDown(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 5) return false;
  const e = err as DriverError;
  const name = e.name ?? "";
  const code = typeof e.code === "string" ? e.code : undefined;
  if (name.startsWith("PrismaClientInitializationError") || (code && (PRISMA_DOWN_CODES.has(code) || SOCKET_ERROR_CODES.has(code))))
    return true;
  // pg's own DatabaseError carries the server's severity; that tells it from other errors with a code
  if (typeof e.severity === "string" && serverSaysDown(code, e.severity)) return true;
  const cause = adapterCause(e);
  if (cause && (ADAPTER_DOWN_KINDS.has(cause.kind ?? "") || serverSaysDown(cause.originalCode, cause.severity))) return true;
  if (name === "Error" && typeof e.message === "string" && PG_CONNECTION_LOST.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && meansPostgresIsDown(e.cause, depth + 1);
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as DriverError;
  const cause = adapterCause(e);
  // Prisma's code, the driver adapter's kind, or plain pg's DatabaseError (db/sql.ts) with the SQLSTATE
  return e.code === "P2002" || cause?.kind === "UniqueConstraintViolation" || cause?.originalCode === "23505" || e.code === "23505";
}

/**
 * What a Prisma/pg failure means to the rest of the code: DependencyError("postgres") when Postgres
 * is not there, UniqueViolation for a broken unique index, anything else unchanged. Errors of our
 * own (thrown inside a transaction's callback) pass through as they are.
 */
export function postgresFailure(err: unknown): unknown {
  if (err instanceof AppError || err instanceof UniqueViolation) return err;
  if (meansPostgresIsDown(err)) return new DependencyError("postgres", { cause: err });
  if (isUniqueViolation(err)) return new UniqueViolation(err);
  return err;
}

// query_canceled (statement_timeout) and lock_not_available (lock_timeout)
const TIMED_OUT_STATES = new Set(["57014", "55P03"]);

/** The statement was cut by the statement_timeout or lock_timeout its transaction set (db/deadline.ts). */
export function isStatementTimeout(err: unknown): boolean {
  const e = err as DriverError;
  const code = adapterCause(e)?.originalCode ?? (typeof e.code === "string" ? e.code : undefined);
  return code !== undefined && TIMED_OUT_STATES.has(code);
}
