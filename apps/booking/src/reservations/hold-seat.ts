import { AppError, DependencyError, type HoldView, type Logger, type MultiHoldView, type QueueTokens } from "@concert/shared";
import type Redlock from "redlock";
import type { Lock } from "redlock";
import { timeLeft } from "../db/deadline";
import { UniqueViolation } from "../db/postgres-errors";
import type { HeldReservation, HoldRefusal, ReservationsRepository } from "../db/reservations.repository";
import type { SeatChanges } from "../seat-changes";
import type { SeatGate } from "./seat-gate";

export interface HoldSeatDeps {
  reservations: ReservationsRepository;
  gate: SeatGate;
  redlock: Redlock;
  queueStore: QueueTokens;
  logger: Logger;
  holdTtlMs: number;
  maxHoldsPerUser: number;
  /** every read model of seat state (seat-changes.ts), told once after every committed change */
  seatChanges?: SeatChanges;
}

export interface HoldSeatInput {
  userId: number;
  concertDetailId: number;
  /** the seats to hold, all or none: ascending, distinct (the order gates and rows are taken in) */
  seatNos: readonly number[];
  /** the queue token the request came with, kept active until the hold expires */
  queueToken?: string;
  /** ms since epoch when the caller stops waiting (the passport's): nothing commits after it */
  deadline?: number;
  /** the client's Idempotency-Key: a retry with it returns the hold it made */
  idempotencyKey?: string;
  /**
   * The request's passport being marked used (routes.ts ApiRequest.passportMark), sent with the
   * gate claim and the lease: a refusal (a replayed passport) gives both back before Postgres is
   * asked. Absent: already marked.
   */
  passportMark?: Promise<void>;
}

/**
 * The Redlock lease on the user's holds. The hold's transaction is bounded to end before the
 * lease does (see holdSeats), so the lease always covers the work; it is only the fast path
 * anyway: the hold statement locks the user's row and counts under that lock.
 */
const USER_LOCK_MS = 8_000;
const USER_LOCK_SETTINGS = { retryCount: 40, retryDelay: 50, retryJitter: 50 };

/**
 * Holds one seat (the seed's `seatId` form, answered as before): see holdSeats.
 */
export async function holdSeat(deps: HoldSeatDeps, input: HoldSeatInput): Promise<HoldView> {
  const [hold] = await holdSeats(deps, input);
  return hold;
}

/** Holds several seats together (`seatIds`): one hold per seat, ascending by seat, one expiry. */
export async function holdSeatGroup(deps: HoldSeatDeps, input: HoldSeatInput): Promise<MultiHoldView> {
  const reservations = await holdSeats(deps, input);
  return { reservations, expiresAt: reservations[0].expiresAt };
}

/**
 * Holds every seat of `seatNos` for one user or none: more seats than the user may hold at all
 * is refused before anything is touched → a retry under an Idempotency-Key gets the hold it made
 * → at once: the Redis gate keys of all the seats, all or none, in one script (most losers stop
 * here), Redlock on the user's hold count, and the passport's mark when still pending → the hold
 * transaction in Postgres, which has the last word and ends before the caller's deadline and the
 * lease (a refusal gives the gate keys back) → each gate key now names its reservation, with the
 * hold's expiry, and the queue token is kept alive until then.
 */
async function holdSeats(deps: HoldSeatDeps, input: HoldSeatInput): Promise<HoldView[]> {
  const { userId, concertDetailId, seatNos, idempotencyKey } = input;
  if (input.deadline !== undefined) timeLeft(input.deadline);
  if (seatNos.length > deps.maxHoldsPerUser) throw holdLimit(deps.maxHoldsPerUser);
  if (idempotencyKey) {
    const earlier = await deps.reservations.findByKey(userId, idempotencyKey);
    if (earlier) return replayOrConflict(earlier, input, deps.logger);
  }
  // The seats' gate keys and the user's lease are asked for at once, with the passport's mark
  // when it is still pending (auto-pipelining: one round trip); whichever was had is given back
  // when the others were not.
  const [claimed, leased, marked] = await Promise.allSettled([
    deps.gate.claim(concertDetailId, seatNos),
    acquireUserLock(deps.redlock, deps.gate.keys.userHoldsLock(userId)),
    input.passportMark,
  ]);
  const lock = leased.status === "fulfilled" ? leased.value : undefined;
  const owner = claimed.status === "fulfilled" && "owner" in claimed.value ? claimed.value.owner : undefined;
  const releaseLock = async () => {
    await lock?.release().catch(() => {}); // a failed release does not fail the hold: the lease runs out
  };
  // the lease and the pending gate keys go back together (one round trip)
  const giveBack = () =>
    Promise.all([releaseLock(), owner !== undefined && deps.gate.releaseAll(concertDetailId, seatNos, owner).catch(() => {})]);
  if (
    marked.status === "rejected" ||
    claimed.status === "rejected" ||
    leased.status === "rejected" ||
    owner === undefined ||
    lock === undefined
  ) {
    await giveBack();
    if (marked.status === "rejected") throw marked.reason; // a replayed passport: 401, nothing held
    if (claimed.status === "rejected") throw claimed.reason;
    if ("taken" in claimed.value) throw seatUnavailable(concertDetailId, claimed.value.taken);
    throw (leased as PromiseRejectedResult).reason;
  }
  let held;
  try {
    held = await deps.reservations.holdSeats({
      userId,
      concertDetailId,
      seatNos,
      ttlMs: deps.holdTtlMs,
      maxHolds: deps.maxHoldsPerUser,
      deadline: Math.min(lock.expiration, input.deadline ?? lock.expiration),
      idempotencyKey,
    });
  } catch (err) {
    await giveBack();
    // Two requests with one key at once: the loser trips the unique index; the winner's hold is the answer.
    if (idempotencyKey && err instanceof UniqueViolation) {
      const earlier = await deps.reservations.findByKey(userId, idempotencyKey);
      if (earlier) return replayOrConflict(earlier, input, deps.logger);
    }
    throw err;
  }
  if (!held) {
    await giveBack();
    const why = await deps.reservations.explainRefusal({ userId, concertDetailId, seatNos, maxHolds: deps.maxHoldsPerUser });
    throw refusal(why, input, deps.maxHoldsPerUser);
  }

  await Promise.all([
    releaseLock(),
    confirmGates(deps, input, owner, held),
    deps.seatChanges?.changed(
      held.map((h) => ({
        concertDetailId,
        seatNo: h.seatNo,
        reservationId: h.reservationId,
        to: { state: "HELD", untilMs: h.expiresAt.getTime() },
      })),
    ),
  ]);
  return held.map(holdView);
}

/**
 * Best effort once the hold is committed (Postgres is the truth): each seat's gate key names its
 * reservation until the hold's expiry, and the queue token lives until then. The confirms and the
 * token's extension go out together (auto-pipelining: one round trip), each counting the hold's
 * remaining time from its own Redis clock; the extension is sent after the confirms on the same
 * connection, so Redis runs it after them and the token outlives every seat's key.
 */
async function confirmGates(deps: HoldSeatDeps, input: HoldSeatInput, owner: string, held: HeldReservation[]): Promise<void> {
  const remainingMs = held[0].expiresAt.getTime() - held[0].dbNow.getTime();
  try {
    await Promise.all([
      ...held.map((h) => deps.gate.confirm(input.concertDetailId, h.seatNo, owner, h.reservationId, remainingMs)),
      input.queueToken && deps.queueStore.keepActiveFor(input.queueToken, remainingMs),
    ]);
  } catch (err) {
    deps.logger.warn({ err, reservationIds: held.map((h) => h.reservationId) }, "hold committed, but Redis bookkeeping failed");
  }
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

/** The same hold again → the answer it got; the key reused for other seats → 409. */
function replayOrConflict(earlier: HeldReservation[], input: HoldSeatInput, logger: Logger): HoldView[] {
  const same =
    earlier[0].concertDetailId === input.concertDetailId &&
    earlier.length === input.seatNos.length &&
    earlier.every((e, i) => e.seatNo === input.seatNos[i]);
  if (!same) {
    throw new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was used for a hold of another seat", {
      reservationId: earlier[0].reservationId,
    });
  }
  logger.info({ reservationIds: earlier.map((e) => e.reservationId) }, "idempotent hold replayed");
  return earlier.map(holdView);
}

/**
 * Takes the user's lease. Redlock gives up (ExecutionError) when no quorum of its Redis nodes
 * answered within the retry window: to the client that is Redis being unavailable.
 */
async function acquireUserLock(redlock: Redlock, resource: string): Promise<Lock> {
  return redlock.acquire([resource], USER_LOCK_MS, USER_LOCK_SETTINGS).catch((err: unknown) => {
    throw new DependencyError("redis", { cause: err });
  });
}

function seatUnavailable(concertDetailId: number, seatNos: readonly number[]): AppError {
  const [seatId] = seatNos;
  const which = seatNos.length === 1 ? `Seat ${seatId}` : `Seats ${seatNos.join(", ")}`;
  return new AppError(
    "SEAT_UNAVAILABLE",
    `${which} of performance ${concertDetailId} ${seatNos.length === 1 ? "is" : "are"} not available`,
    {
      concertDetailId,
      seatId,
      seatIds: seatNos,
    },
  );
}

function holdLimit(maxHolds: number): AppError {
  return new AppError("HOLD_LIMIT", `A user may hold at most ${maxHolds} seats at once`, { maxHolds });
}

function refusal({ why, seatNos }: { why: HoldRefusal; seatNos: number[] }, input: HoldSeatInput, maxHolds: number): AppError {
  switch (why) {
    case "PERFORMANCE_NOT_FOUND":
      return new AppError("NOT_FOUND", `Performance ${input.concertDetailId} not found`, { concertDetailId: input.concertDetailId });
    case "SEAT_NOT_FOUND":
      return new AppError("NOT_FOUND", `Seat ${seatNos.join(", ")} of performance ${input.concertDetailId} not found`, {
        seatId: seatNos[0],
        seatIds: seatNos,
      });
    case "PERFORMANCE_STARTED":
      return new AppError("SEAT_UNAVAILABLE", `Performance ${input.concertDetailId} has already started`, {
        concertDetailId: input.concertDetailId,
      });
    case "HOLD_LIMIT":
      return holdLimit(maxHolds);
    default:
      return seatUnavailable(input.concertDetailId, seatNos);
  }
}
