import { AppError } from "@concert/shared";
import type { Db } from "./client";
import { isStatementTimeout } from "./postgres-errors";
import type { TxQuery } from "./sql";

/** Kept back from a deadline so that the answer reaches the caller before it gives up. */
const ANSWER_MARGIN_MS = 200;

/** 503 + Retry-After: the caller's deadline passed (or would have) before the work could be done; nothing was changed. */
export function deadlinePassed(): AppError {
  const err = new AppError("SERVICE_UNAVAILABLE", "The request ran out of time before it could be done; nothing was changed, try again");
  err.retryAfterSec = 1;
  return err;
}

/** Milliseconds of work left before `deadline` (ms since epoch); throws deadlinePassed() when none is. */
export function timeLeft(deadline: number, now = Date.now()): number {
  const left = Math.floor(deadline - ANSWER_MARGIN_MS - now);
  if (left <= 0) throw deadlinePassed();
  return left;
}

/** A transaction without a caller's deadline (tests, operator paths) is still cut after this long. */
const NO_DEADLINE_TX_MS = 15_000;

/**
 * Runs `work` in one READ COMMITTED transaction (plain pg, db/sql.ts) that cannot commit after
 * `deadline` (without one, each statement is cut after NO_DEADLINE_TX_MS): the wait for a pool connection is bounded by the time left, every statement and
 * every lock wait in it is cut at the time that was left once it had one (SET LOCAL
 * statement_timeout / lock_timeout), and COMMIT is not sent once no time is left, so work its
 * caller has given up on rolls back instead of committing later.
 */
export async function transactionBefore<T>(db: Db, deadline: number | undefined, work: (query: TxQuery) => Promise<T>): Promise<T> {
  if (deadline === undefined) return db.sql.transaction({ timeoutMs: NO_DEADLINE_TX_MS }, work);
  const budget = timeLeft(deadline);
  try {
    return await db.sql.transaction(
      {
        connectWithinMs: budget,
        onConnectTimeout: deadlinePassed,
        timeoutMs: () => timeLeft(deadline),
        beforeCommit: () => void timeLeft(deadline),
      },
      work,
    );
  } catch (err) {
    if (isStatementTimeout(err)) throw deadlinePassed();
    throw err;
  }
}
