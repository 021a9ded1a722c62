import { AppError } from "@concert/shared";
import { Prisma } from "../generated/prisma/client";
import type { Db, Tx } from "./client";
import { toNumber } from "./client";
import { UniqueViolation } from "./postgres-errors";

export interface PaymentResult {
  paymentId: number;
  reservationIds: number[];
  amount: number;
  balance: number;
  status: "PAID";
  /** true when this is the stored result of an earlier request with the same Idempotency-Key */
  replayed: boolean;
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

const TX_OPTIONS = {
  isolationLevel: Prisma.TransactionIsolationLevel.ReadCommitted,
  maxWait: 10_000,
  timeout: 15_000,
};

/**
 * A payment in ONE interactive transaction. Locks are always taken in the order
 * seat → reservation → user (ids ascending within each), the order every other writer uses too,
 * so concurrent payments, holds and sweeps cannot deadlock. Row locks are FOR NO KEY UPDATE, which
 * does not block the foreign-key checks of concurrent inserts.
 */
export class PaymentsRepository {
  constructor(private readonly db: Db) {}

  async pay(input: PayInput): Promise<PaymentResult> {
    const ids = [...new Set(input.reservationIds)].sort((a, b) => a - b);
    if (input.replayOnly) {
      const earlier = input.idempotencyKey ? await this.findByKey(this.db, input.userId, input.idempotencyKey) : null;
      if (!earlier) throw new AppError("TOKEN_INVALID", "This queue token was used for a payment; queue again to pay anything else");
      return sameRequestOrConflict(earlier, ids);
    }
    try {
      return await this.db.$transaction((tx) => this.payIn(tx, { ...input, reservationIds: ids }), TX_OPTIONS);
    } catch (err) {
      // Two requests with one key for different reservations: the loser trips the unique index.
      if (input.idempotencyKey && err instanceof UniqueViolation) {
        const earlier = await this.findByKey(this.db, input.userId, input.idempotencyKey);
        if (earlier) return sameRequestOrConflict(earlier, ids);
      }
      throw err;
    }
  }

  private async payIn(tx: Tx, input: PayInput): Promise<PaymentResult> {
    const { userId, reservationIds: ids, idempotencyKey } = input;
    if (idempotencyKey) {
      const earlier = await this.findByKey(tx, userId, idempotencyKey);
      if (earlier) return sameRequestOrConflict(earlier, ids);
    }

    // Ownership never changes, so it can be checked before locking.
    const found = await tx.$queryRaw<{ id: number; user_id: number; seat_id: number }[]>`
      SELECT id, user_id, seat_id FROM reservation WHERE id = ANY(${ids}::int[])`;
    const missing = ids.filter((id) => !found.some((r) => r.id === id));
    if (missing.length) throw new AppError("NOT_FOUND", `Reservation ${missing[0]} not found`, { reservationId: missing[0] });
    const foreign = found.find((r) => r.user_id !== userId);
    if (foreign) throw new AppError("NOT_OWNER", `Reservation ${foreign.id} belongs to another user`, { reservationId: foreign.id });

    // Lock order: seats, then reservations, then the user.
    const seatIds = [...new Set(found.map((r) => r.seat_id))].sort((a, b) => a - b);
    const seats = await tx.$queryRaw<{ id: number; status: string; reservation_id: number | null }[]>`
      SELECT id, status::text, reservation_id FROM seat WHERE id = ANY(${seatIds}::int[]) ORDER BY id FOR NO KEY UPDATE`;
    const reservations = await tx.$queryRaw<
      { id: number; seat_id: number; status: string; price: number; expired: boolean }[]
    >`SELECT id, seat_id, status::text, price, expires_at <= clock_timestamp() AS expired
        FROM reservation WHERE id = ANY(${ids}::int[]) ORDER BY id FOR NO KEY UPDATE`;

    // A request with the same key may have committed while we waited for the locks.
    if (idempotencyKey) {
      const earlier = await this.findByKey(tx, userId, idempotencyKey);
      if (earlier) return sameRequestOrConflict(earlier, ids);
    }
    for (const r of reservations) {
      if (r.status === "CONFIRMED") throw new AppError("ALREADY_PAID", `Reservation ${r.id} is already paid`, { reservationId: r.id });
    }
    for (const r of reservations) {
      const seat = seats.find((s) => s.id === r.seat_id);
      const stillHeld = r.status === "HELD" && !r.expired && seat?.status === "HELD" && seat.reservation_id === r.id;
      if (!stillHeld)
        throw new AppError("HOLD_EXPIRED", `The hold of reservation ${r.id} has expired; hold the seat again`, { reservationId: r.id });
    }

    const amount = reservations.reduce((sum, r) => sum + r.price, 0);
    if (input.point !== undefined && input.point !== amount) {
      throw new AppError("AMOUNT_MISMATCH", `point ${input.point} differs from the price ${amount}`, {
        expected: amount,
        given: input.point,
      });
    }

    const [user] = await tx.$queryRaw<{ point: bigint }[]>`
      SELECT point FROM users WHERE id = ${userId} FOR NO KEY UPDATE`;
    const balance = user ? toNumber(user.point) : 0;
    if (balance < amount) {
      throw new AppError("INSUFFICIENT_POINTS", `Balance ${balance} is less than the price ${amount}`, { balance, amount });
    }

    const [payment] = await tx.$queryRaw<{ id: number; balance_after: bigint }[]>`
      WITH debited AS (
        UPDATE users SET point = point - ${BigInt(amount)} WHERE id = ${userId} RETURNING point
      ), p AS (
        INSERT INTO payment (user_id, amount, balance_after, idempotency_key)
        SELECT ${userId}, ${BigInt(amount)}, point, ${idempotencyKey ?? null} FROM debited
        RETURNING id, balance_after
      ), ledger AS (
        INSERT INTO point_ledger (user_id, type, amount, balance_after, payment_id)
        SELECT ${userId}, 'USE', ${BigInt(amount)}, balance_after, id FROM p WHERE ${BigInt(amount)} > 0
      )
      SELECT id, balance_after FROM p`;
    await tx.$executeRaw`
      UPDATE reservation SET status = 'CONFIRMED', payment_id = ${payment.id} WHERE id = ANY(${ids}::int[])`;
    await tx.$executeRaw`
      UPDATE seat SET status = 'SOLD', hold_until = NULL WHERE id = ANY(${seatIds}::int[])`;

    return {
      paymentId: payment.id,
      reservationIds: ids,
      amount,
      balance: toNumber(payment.balance_after),
      status: "PAID",
      replayed: false,
    };
  }

  private async findByKey(db: Db | Tx, userId: number, key: string): Promise<PaymentResult | null> {
    const payment = await db.payment.findUnique({
      where: { userId_idempotencyKey: { userId, idempotencyKey: key } },
      select: { id: true, amount: true, balanceAfter: true, reservations: { select: { id: true }, orderBy: { id: "asc" } } },
    });
    if (!payment) return null;
    return {
      paymentId: payment.id,
      reservationIds: payment.reservations.map((r) => r.id),
      amount: toNumber(payment.amount),
      balance: toNumber(payment.balanceAfter),
      status: "PAID",
      replayed: true,
    };
  }
}

function sameRequestOrConflict(earlier: PaymentResult, ids: number[]): PaymentResult {
  const same = earlier.reservationIds.length === ids.length && earlier.reservationIds.every((id, i) => id === ids[i]);
  if (!same) {
    throw new AppError("IDEMPOTENCY_CONFLICT", "This Idempotency-Key was already used for other reservations", {
      paymentId: earlier.paymentId,
    });
  }
  return earlier;
}
