import { AppError, type CancelView } from "@concert/shared";

export interface CancelInput {
  userId: number;
  reservationId: number;
  idempotencyKey?: string;
}

/**
 * The reservation as the cancel locked it (seat → reservation → user), with what the rules need;
 * `E` is the stored answer of a cancel, as the repository keeps it.
 */
export interface LockedCancel<E extends CancelView = CancelView> {
  reservation: {
    id: number;
    userId: number;
    seatId: number;
    status: string;
    price: number;
    paymentId: number | null;
    /** the Idempotency-Key of the cancel that cancelled it, if any */
    cancelKey: string | null;
    /** the DbClock's time is later than the performance's start minus CANCEL_DEADLINE_SEC */
    deadlinePassed: boolean;
    cancelDeadline: Date;
  };
  /** the payment's amount and what was refunded from it so far (0 / 0 when unpaid) */
  payment: { amount: number; refunded: number };
  /** the stored answer when the reservation is already CANCELLED */
  earlier: E | null;
  balance: number;
  /** the highest balance a user may have */
  maxBalance: number;
}

/** What the repository writes: cancel the reservation, free its seat, credit `amount` with a REFUND row. */
export interface RefundPlan {
  userId: number;
  reservationId: number;
  seatId: number;
  paymentId: number;
  amount: number;
  idempotencyKey?: string;
}

export type CancelDecision<E extends CancelView = CancelView> = { refusal: AppError } | { replay: E } | { plan: RefundPlan };

/** The owner check, before anything is locked (who owns a reservation never changes). */
export function decideCancelOwner(input: CancelInput, owner: number | null): AppError | null {
  if (owner === null) {
    return new AppError("NOT_FOUND", `Reservation ${input.reservationId} not found`, { reservationId: input.reservationId });
  }
  if (owner !== input.userId) {
    return new AppError("NOT_OWNER", `Reservation ${input.reservationId} belongs to another user`, { reservationId: input.reservationId });
  }
  return null;
}

/**
 * A key already used by this user: the same reservation is a replay (decided under the locks),
 * another one is IDEMPOTENCY_CONFLICT.
 */
export function keyConflict(input: CancelInput, cancelledWithKey: number | null): AppError | null {
  if (cancelledWithKey === null || cancelledWithKey === input.reservationId) return null;
  return new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was already used to cancel another reservation", {
    reservationId: cancelledWithKey,
  });
}

/**
 * Under the locks, in this order: already CANCELLED (the first answer again for the same
 * Idempotency-Key, else ALREADY_CANCELLED), never paid (NOT_PAID: a HELD one is released, not
 * cancelled), CANCEL_DEADLINE_PASSED, a refund past the payment's amount (never: each seat of a
 * payment is refunded once at its own price; refused as INTERNAL rather than written),
 * BALANCE_LIMIT; otherwise the plan. The refund is not a charge: MAX_CHARGE_POINT bounds money
 * coming in, and these points were the user's; only the hard balance cap (exact JSON numbers)
 * can refuse it, loudly and with nothing changed.
 */
export function decideCancel<E extends CancelView>(input: CancelInput, rows: LockedCancel<E>): CancelDecision<E> {
  const r = rows.reservation;
  if (r.status === "CANCELLED") {
    if (input.idempotencyKey && r.cancelKey === input.idempotencyKey && rows.earlier) return { replay: rows.earlier };
    return { refusal: new AppError("ALREADY_CANCELLED", `Reservation ${r.id} is already cancelled`, { reservationId: r.id }) };
  }
  if (r.status !== "CONFIRMED" || r.paymentId === null) {
    const hint = r.status === "HELD" ? `; release the hold with DELETE /api/reservations/${r.id}` : "";
    return {
      refusal: new AppError("NOT_PAID", `Reservation ${r.id} is ${r.status}, not paid: nothing to refund${hint}`, {
        reservationId: r.id,
        status: r.status,
      }),
    };
  }
  if (r.deadlinePassed) {
    return {
      refusal: new AppError("CANCEL_DEADLINE_PASSED", `Reservation ${r.id} could be cancelled until ${r.cancelDeadline.toISOString()}`, {
        reservationId: r.id,
        cancelDeadline: r.cancelDeadline.toISOString(),
      }),
    };
  }
  if (rows.payment.refunded + r.price > rows.payment.amount) {
    return { refusal: new AppError("INTERNAL", `Payment ${r.paymentId} cannot refund more than its amount`, { paymentId: r.paymentId }) };
  }
  if (rows.balance + r.price > rows.maxBalance) {
    return {
      refusal: new AppError("BALANCE_LIMIT", `A balance may not exceed ${rows.maxBalance}; spend some points, then cancel`, {
        max: rows.maxBalance,
      }),
    };
  }
  return {
    plan: {
      userId: input.userId,
      reservationId: r.id,
      seatId: r.seatId,
      paymentId: r.paymentId,
      amount: r.price,
      idempotencyKey: input.idempotencyKey,
    },
  };
}
