import { Prisma } from "../generated/prisma/client";

/**
 * The time every rule about holds is decided at. In production it is the database's clock, so
 * that all instances agree without trusting their own clocks; a test injects its own clock
 * (createApp's `clock`) to let a hold expire without waiting for it.
 */
export interface DbClock {
  /** the statement's time: `now()` (a transaction's start) */
  now(): Prisma.Sql;
  /** the time as the statement runs, after any lock waits: `clock_timestamp()` */
  current(): Prisma.Sql;
}

export function dbClock(clock?: () => Date): DbClock {
  if (!clock) return { now: () => Prisma.sql`now()`, current: () => Prisma.sql`clock_timestamp()` };
  const at = () => Prisma.sql`${clock()}::timestamptz`;
  return { now: at, current: at };
}

/** Seat row `s` is HELD by a hold that has expired at `now`: free to hold, and for the sweeper to free. */
export const seatHoldExpired = (now: Prisma.Sql): Prisma.Sql => Prisma.sql`(s.status = 'HELD' AND s.hold_until <= ${now})`;

/** "Free" everywhere: seat row `s` is FREE, or HELD by a hold that has expired at `now`. */
export const seatIsFree = (now: Prisma.Sql): Prisma.Sql => Prisma.sql`(s.status = 'FREE' OR ${seatHoldExpired(now)})`;

/** How many live holds (HELD and not expired at `now`) the user has: what maxHolds limits. */
export const liveHoldCount = (userId: number, now: Prisma.Sql): Prisma.Sql =>
  Prisma.sql`(SELECT count(*)::int FROM reservation WHERE user_id = ${userId} AND status = 'HELD' AND expires_at > ${now})`;
