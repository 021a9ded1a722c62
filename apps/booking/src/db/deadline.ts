import { AppError } from "@concert/shared";
import { Prisma } from "../generated/prisma/client";
import type { Db, Tx } from "./client";
import { isStatementTimeout } from "./postgres-errors";

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

/**
 * Runs `work` in one READ COMMITTED interactive transaction that cannot commit after `deadline`:
 * every statement and every lock wait in it is cut at the time that was left when it began
 * (SET LOCAL statement_timeout / lock_timeout), and Prisma's transaction timeout bounds the
 * whole, so work its caller has given up on rolls back instead of committing later.
 */
export async function transactionBefore<T>(db: Db, deadline: number, work: (tx: Tx) => Promise<T>): Promise<T> {
  const budget = timeLeft(deadline);
  try {
    return await db.$transaction(
      async (tx) => {
        const left = String(timeLeft(deadline));
        await tx.$queryRaw`SELECT set_config('statement_timeout', ${left}, true), set_config('lock_timeout', ${left}, true)`;
        return work(tx);
      },
      { isolationLevel: Prisma.TransactionIsolationLevel.ReadCommitted, maxWait: budget, timeout: budget },
    );
  } catch (err) {
    if (isStatementTimeout(err)) throw deadlinePassed();
    throw err;
  }
}
