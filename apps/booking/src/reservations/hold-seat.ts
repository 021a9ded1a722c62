import { AppError, DependencyError, type HoldView, type Logger, type QueueTokens } from "@concert/shared";
import type Redlock from "redlock";
import { timeLeft } from "../db/deadline";
import { UniqueViolation } from "../db/postgres-errors";
import type { HeldReservation, HoldRefusal, ReservationsRepository } from "../db/reservations.repository";
import type { SeatGate } from "./seat-gate";

export interface HoldSeatDeps {
  reservations: ReservationsRepository;
  gate: SeatGate;
  redlock: Redlock;
  queueStore: QueueTokens;
  logger: Logger;
  holdTtlMs: number;
  maxHoldsPerUser: number;
}

export interface HoldSeatInput {
  userId: number;
  concertDetailId: number;
  seatNo: number;
  /** the queue token the request came with, kept active until the hold expires */
  queueToken?: string;
  /** ms since epoch when the caller stops waiting (the passport's): nothing commits after it */
  deadline?: number;
  /** the client's Idempotency-Key: a retry with it returns the hold it made */
  idempotencyKey?: string;
}

/**
 * The Redlock lease on the user's holds. The hold's transaction is bounded to end before the
 * lease does (see holdSeat), so the lease always covers the work; it is only the fast path
 * anyway: the hold statement locks the user's row and counts under that lock.
 */
const USER_LOCK_MS = 8_000;
const USER_LOCK_SETTINGS = { retryCount: 40, retryDelay: 50, retryJitter: 50 };

/**
 * Holds a seat for one user: a retry under an Idempotency-Key gets the hold it made → Redis gate
 * (most losers stop here) → Redlock on the user's hold count → the hold transaction in Postgres,
 * which has the last word and ends before the caller's deadline and the lease → the gate key now
 * names the reservation, with the hold's expiry → the queue token is kept alive until then.
 */
export async function holdSeat(deps: HoldSeatDeps, input: HoldSeatInput): Promise<HoldView> {
  const { userId, concertDetailId, seatNo, idempotencyKey } = input;
  if (input.deadline !== undefined) timeLeft(input.deadline);
  if (idempotencyKey) {
    const earlier = await deps.reservations.findByKey(userId, idempotencyKey);
    if (earlier) return replayOrConflict(earlier, input, deps.logger);
  }
  const owner = await deps.gate.claim(concertDetailId, seatNo);
  if (!owner) throw seatUnavailable(concertDetailId, seatNo);

  let held;
  try {
    held = await withLock(deps.redlock, deps.gate.keys.userHoldsLock(userId), (leaseEnd) =>
      deps.reservations.holdSeat({
        userId,
        concertDetailId,
        seatNo,
        ttlMs: deps.holdTtlMs,
        maxHolds: deps.maxHoldsPerUser,
        deadline: Math.min(leaseEnd, input.deadline ?? leaseEnd),
        idempotencyKey,
      }),
    );
    if (!held) {
      const why = await deps.reservations.explainRefusal({ userId, concertDetailId, seatNo, maxHolds: deps.maxHoldsPerUser });
      throw refusal(why, input, deps.maxHoldsPerUser);
    }
  } catch (err) {
    await deps.gate.release(concertDetailId, seatNo, owner).catch(() => {});
    // Two requests with one key at once: the loser trips the unique index; the winner's hold is the answer.
    if (idempotencyKey && err instanceof UniqueViolation) {
      const earlier = await deps.reservations.findByKey(userId, idempotencyKey);
      if (earlier) return replayOrConflict(earlier, input, deps.logger);
    }
    throw err;
  }

  // Everything below is best effort: the hold is committed, Postgres is the truth.
  const remainingMs = held.expiresAt.getTime() - held.dbNow.getTime();
  try {
    const redisNow = await deps.gate.confirm(concertDetailId, seatNo, owner, held.reservationId, remainingMs);
    if (input.queueToken) await deps.queueStore.extendActive(input.queueToken, redisNow + remainingMs);
  } catch (err) {
    deps.logger.warn({ err, reservationId: held.reservationId }, "hold committed, but Redis bookkeeping failed");
  }

  return holdView(held);
}

function holdView(held: HeldReservation): HoldView {
  return {
    reservationId: held.reservationId,
    concertDetailId: held.concertDetailId,
    seatId: held.seatNo,
    price: held.price,
    status: "HELD",
    expiresAt: held.expiresAt.toISOString(),
  };
}

/** The same hold again → the answer it got; the key reused for another seat → 409. */
function replayOrConflict(earlier: HeldReservation, input: HoldSeatInput, logger: Logger): HoldView {
  if (earlier.concertDetailId !== input.concertDetailId || earlier.seatNo !== input.seatNo) {
    throw new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used for a hold of another seat", {
      reservationId: earlier.reservationId,
    });
  }
  logger.info({ reservationId: earlier.reservationId }, "idempotent hold replayed");
  return holdView(earlier);
}

/**
 * Runs `routine` under a Redlock lease and releases it in `finally`, like `redlock.using`, except
 * that a failed release does not fail the call: once the routine has committed (the hold is in
 * Postgres), losing Redis must not turn it into an error that makes the client hold another seat
 * while this one stays held. The lease then simply runs out.
 */
async function withLock<T>(redlock: Redlock, resource: string, routine: (leaseEnd: number) => Promise<T>): Promise<T> {
  // Redlock gives up (ExecutionError) when no quorum of its Redis nodes answered within the retry
  // window: to the client that is Redis being unavailable.
  const lock = await redlock.acquire([resource], USER_LOCK_MS, USER_LOCK_SETTINGS).catch((err: unknown) => {
    throw new DependencyError("redis", { cause: err });
  });
  try {
    return await routine(lock.expiration);
  } finally {
    await lock.release().catch(() => {});
  }
}

function seatUnavailable(concertDetailId: number, seatNo: number): AppError {
  return new AppError("SEAT_UNAVAILABLE", `Seat ${seatNo} of performance ${concertDetailId} is not available`, {
    concertDetailId,
    seatId: seatNo,
  });
}

function refusal(why: HoldRefusal, input: HoldSeatInput, maxHolds: number): AppError {
  switch (why) {
    case "PERFORMANCE_NOT_FOUND":
      return new AppError("NOT_FOUND", `Performance ${input.concertDetailId} not found`, { concertDetailId: input.concertDetailId });
    case "SEAT_NOT_FOUND":
      return new AppError("NOT_FOUND", `Seat ${input.seatNo} of performance ${input.concertDetailId} not found`, { seatId: input.seatNo });
    case "PERFORMANCE_STARTED":
      return new AppError("SEAT_UNAVAILABLE", `Performance ${input.concertDetailId} has already started`, {
        concertDetailId: input.concertDetailId,
      });
    case "HOLD_LIMIT":
      return new AppError("HOLD_LIMIT", `A user may hold at most ${maxHolds} seats at once`, { maxHolds });
    default:
      return seatUnavailable(input.concertDetailId, input.seatNo);
  }
}
