import { Prisma } from "../generated/prisma/client";
import {
  decideOwnership,
  decidePayment,
  replayOrConflict,
  seatIdsOf,
  settled,
  type LockedRows,
  type PaymentPlan,
  type PaymentRequest,
  type PaymentResult,
} from "../payments/decide-payment";
import type { Db } from "./client";
import { toNumber } from "./client";
import { transactionBefore } from "./deadline";
import { dbClock, type DbClock } from "./seat-sql";
import type { Query } from "./sql";

/**
 * A payment in ONE transaction (plain pg, db/sql.ts: the purchase's busiest statements): this reads and locks the rows, decidePayment decides,
 * this writes the plan. Locks are always taken in the order seat → reservation → user (ids
 * ascending within each), the order every other writer uses too, so concurrent payments, holds
 * and sweeps cannot deadlock. Row locks are FOR NO KEY UPDATE, which does not block the
 * foreign-key checks of concurrent inserts.
 */
export class PaymentsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /**
   * Pays, replays or refuses (AppError). A concurrent request with the same key may make it throw
   * UniqueViolation. With the caller's `deadline` (ms since epoch) the transaction cannot commit after it.
   */
  async pay(request: PaymentRequest, deadline?: number): Promise<PaymentResult> {
    return transactionBefore(this.db, deadline, (query) => this.payIn(query, request));
  }

  /** The payment stored under the user's Idempotency-Key, marked as a replay. */
  async findByKey(userId: number, key: string): Promise<PaymentResult | null> {
    return this.findIn(this.db.sql.query, userId, key);
  }

  private async payIn(query: Query, request: PaymentRequest): Promise<PaymentResult> {
    const { userId, reservationIds: ids, idempotencyKey } = request;
    const earlier = idempotencyKey ? await this.findIn(query, userId, idempotencyKey) : null;
    if (earlier) return settled(replayOrConflict(request, earlier));

    // Ownership never changes, so it can be checked before locking.
    const owned = (
      await query<{ id: number; user_id: number; seat_id: number }>(Prisma.sql`
        SELECT id, user_id, seat_id FROM reservation WHERE id = ANY(${ids}::int[])`)
    ).map((r) => ({ id: r.id, userId: r.user_id, seatId: r.seat_id }));
    const notYours = decideOwnership(request, owned);
    if (notYours) throw notYours;

    const decision = decidePayment(request, await this.lock(query, request, seatIdsOf(owned)));
    if (!("plan" in decision)) return settled(decision);
    return this.write(query, decision.plan);
  }

  /** Lock order: seats, then reservations, then the user. */
  private async lock(query: Query, request: PaymentRequest, seatIds: number[]): Promise<LockedRows> {
    const { userId, reservationIds: ids, idempotencyKey } = request;
    const seats = await query<{ id: number; status: string; reservation_id: number | null }>(Prisma.sql`
      SELECT id, status::text, reservation_id FROM seat WHERE id = ANY(${seatIds}::int[]) ORDER BY id FOR NO KEY UPDATE`);
    // the hold's expiry is judged as the statement runs (after waiting for the seat locks)
    const reservations = await query<{ id: number; seat_id: number; status: string; price: number; expired: boolean }>(Prisma.sql`
      SELECT id, seat_id, status::text, price, expires_at <= ${this.clock.current()} AS expired
        FROM reservation WHERE id = ANY(${ids}::int[]) ORDER BY id FOR NO KEY UPDATE`);
    // A request with the same key may have committed while we waited for the locks.
    const earlier = idempotencyKey ? await this.findIn(query, userId, idempotencyKey) : null;
    const [user] = await query<{ point: string }>(Prisma.sql`
      SELECT point FROM users WHERE id = ${userId} FOR NO KEY UPDATE`);
    return {
      earlier,
      seats: seats.map((s) => ({ id: s.id, status: s.status, reservationId: s.reservation_id })),
      reservations: reservations.map((r) => ({ id: r.id, seatId: r.seat_id, status: r.status, price: r.price, expired: r.expired })),
      balance: user ? toNumber(user.point) : 0,
    };
  }

  private async write(query: Query, plan: PaymentPlan): Promise<PaymentResult> {
    const { userId, amount, reservationIds, seatIds } = plan;
    // one statement (its rows are all locked already): debit, payment, ledger row, reservations
    // confirmed, seats sold
    const [payment] = await query<{
      id: number;
      balance_after: string;
      sold: { concertDetailId: number; seatNo: number; reservationId: number }[];
    }>(Prisma.sql`
      WITH debited AS (
        UPDATE users SET point = point - ${BigInt(amount)} WHERE id = ${userId} RETURNING point
      ), p AS (
        INSERT INTO payment (user_id, amount, balance_after, idempotency_key)
        SELECT ${userId}, ${BigInt(amount)}, point, ${plan.idempotencyKey ?? null} FROM debited
        RETURNING id, balance_after
      ), ledger AS (
        INSERT INTO point_ledger (user_id, type, amount, balance_after, payment_id)
        SELECT ${userId}, 'USE', ${BigInt(amount)}, balance_after, id FROM p WHERE ${BigInt(amount)} > 0
      ), confirmed AS (
        UPDATE reservation SET status = 'CONFIRMED', payment_id = (SELECT id FROM p) WHERE id = ANY(${reservationIds}::int[])
      ), sold AS (
        UPDATE seat SET status = 'SOLD', hold_until = NULL WHERE id = ANY(${seatIds}::int[])
        RETURNING concert_detail_id, seat_no, reservation_id
      )
      SELECT p.id, p.balance_after,
             (SELECT coalesce(json_agg(json_build_object('concertDetailId', concert_detail_id, 'seatNo', seat_no, 'reservationId', reservation_id)
                                       ORDER BY reservation_id), '[]') FROM sold) AS sold
        FROM p`);
    // (no user row to debit: decidePayment never plans that; thrown, it rolls everything back)
    if (!payment) throw new Error(`payment of user ${userId} not written: no user row`);
    return {
      paymentId: payment.id,
      reservationIds,
      amount,
      balance: toNumber(payment.balance_after),
      status: "PAID",
      replayed: false,
      sold: payment.sold,
    };
  }

  private async findIn(query: Query, userId: number, key: string): Promise<PaymentResult | null> {
    const [payment] = await query<{ id: number; amount: string; balance_after: string; reservation_ids: number[] }>(Prisma.sql`
      SELECT p.id, p.amount, p.balance_after,
             ARRAY(SELECT r.id FROM reservation r WHERE r.payment_id = p.id ORDER BY r.id) AS reservation_ids
        FROM payment p WHERE p.user_id = ${userId} AND p.idempotency_key = ${key}`);
    if (!payment) return null;
    return {
      paymentId: payment.id,
      reservationIds: payment.reservation_ids,
      amount: toNumber(payment.amount),
      balance: toNumber(payment.balance_after),
      status: "PAID",
      replayed: true,
    };
  }
}
