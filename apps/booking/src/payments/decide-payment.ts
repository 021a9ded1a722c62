import { AppError } from "@concert/shared";

/** A payment as stored, and as answered. */
export interface PaymentResult {
  paymentId: number;
  reservationIds: number[];
  amount: number;
  balance: number;
  status: "PAID";
  /** true when this is the stored result of an earlier request with the same Idempotency-Key */
  replayed: boolean;
  /** the seats this payment sold (the seat map's change), only on the payment that made it */
  sold?: { concertDetailId: number; seatNo: number; reservationId: number }[];
}

export interface PayInput {
  userId: number;
  reservationIds: number[];
  /** the amount the client believes it pays; refused if it differs from the database's price */
  point?: number;
  idempotencyKey?: string;
  /**
   * The queue token was already finished by a payment (the gateway's replay window): only the
   * stored answer of that payment may be returned (same Idempotency-Key); nothing new is paid.
   */
  replayOnly?: boolean;
}

/** A PayInput whose reservation ids are distinct and ascending (the order locks are taken in). */
export type PaymentRequest = PayInput & { readonly normalised: true };

const ascendingUnique = (ids: number[]): number[] => [...new Set(ids)].sort((a, b) => a - b);

export function paymentRequest(input: PayInput): PaymentRequest {
  return { ...input, reservationIds: ascendingUnique(input.reservationIds), normalised: true };
}

/** The asked-for reservations as read before locking: who owns them never changes. */
export interface OwnedReservation {
  id: number;
  userId: number;
  seatId: number;
}

/** The rows the payment locked, and what the store held under its Idempotency-Key by then. */
export interface LockedRows {
  /** the payment stored under this Idempotency-Key, if one committed while we waited for the locks */
  earlier: PaymentResult | null;
  seats: { id: number; status: string; reservationId: number | null }[];
  /** ascending by id */
  reservations: { id: number; seatId: number; status: string; price: number; expired: boolean }[];
  /** the user's balance (0 for a user never seen) */
  balance: number;
}

/** What the repository writes: debit `amount`, confirm the reservations, sell their seats. */
export interface PaymentPlan {
  userId: number;
  reservationIds: number[];
  seatIds: number[];
  amount: number;
  idempotencyKey?: string;
}

/** Anything but a new payment: a refusal to throw, or the stored answer to return. */
export type NoPayment = { refusal: AppError } | { replay: PaymentResult };
export type PaymentDecision = NoPayment | { plan: PaymentPlan };

/** The same key again: the stored answer if it paid the same reservations, else IDEMPOTENCY_CONFLICT. */
export function replayOrConflict(request: PaymentRequest, earlier: PaymentResult): NoPayment {
  const ids = request.reservationIds;
  const same = earlier.reservationIds.length === ids.length && earlier.reservationIds.every((id, i) => id === ids[i]);
  if (!same) {
    return {
      refusal: new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was already used for other reservations", {
        paymentId: earlier.paymentId,
      }),
    };
  }
  return { replay: earlier };
}

/** Before anything is locked: every reservation exists (NOT_FOUND) and is the user's (NOT_OWNER). */
export function decideOwnership(request: PaymentRequest, owned: OwnedReservation[]): AppError | null {
  const missing = request.reservationIds.find((id) => !owned.some((r) => r.id === id));
  if (missing !== undefined) return new AppError("NOT_FOUND", `Reservation ${missing} not found`, { reservationId: missing });
  const foreign = owned.find((r) => r.userId !== request.userId);
  if (foreign) return new AppError("NOT_OWNER", `Reservation ${foreign.id} belongs to another user`, { reservationId: foreign.id });
  return null;
}

/**
 * Under the locks, in this order: a payment that committed with the same key meanwhile
 * (replay or IDEMPOTENCY_CONFLICT), ALREADY_PAID, HOLD_EXPIRED (the reservation's hold ran out, or
 * its seat is no longer held for it), AMOUNT_MISMATCH, INSUFFICIENT_POINTS; otherwise the plan.
 */
export function decidePayment(request: PaymentRequest, rows: LockedRows): PaymentDecision {
  if (request.idempotencyKey && rows.earlier) return replayOrConflict(request, rows.earlier);
  for (const r of rows.reservations) {
    if (r.status === "CONFIRMED") {
      return { refusal: new AppError("ALREADY_PAID", `Reservation ${r.id} is already paid`, { reservationId: r.id }) };
    }
  }
  for (const r of rows.reservations) {
    const seat = rows.seats.find((s) => s.id === r.seatId);
    const stillHeld = r.status === "HELD" && !r.expired && seat?.status === "HELD" && seat.reservationId === r.id;
    if (!stillHeld) {
      return {
        refusal: new AppError("HOLD_EXPIRED", `The hold of reservation ${r.id} has expired; hold the seat again`, { reservationId: r.id }),
      };
    }
  }
  const amount = rows.reservations.reduce((sum, r) => sum + r.price, 0);
  if (request.point !== undefined && request.point !== amount) {
    return {
      refusal: new AppError("AMOUNT_MISMATCH", `point ${request.point} differs from the price ${amount}`, {
        expected: amount,
        given: request.point,
      }),
    };
  }
  if (rows.balance < amount) {
    return {
      refusal: new AppError("INSUFFICIENT_POINTS", `Balance ${rows.balance} is less than the price ${amount}`, {
        balance: rows.balance,
        amount,
      }),
    };
  }
  return {
    plan: {
      userId: request.userId,
      reservationIds: request.reservationIds,
      seatIds: ascendingUnique(rows.reservations.map((r) => r.seatId)),
      amount,
      idempotencyKey: request.idempotencyKey,
    },
  };
}

/** A replay is returned, a refusal thrown (inside the transaction, that rolls it back). */
export function settled(decision: NoPayment): PaymentResult {
  if ("refusal" in decision) throw decision.refusal;
  return decision.replay;
}
