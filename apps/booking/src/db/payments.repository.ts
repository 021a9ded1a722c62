import { Prisma } from "../generated/prisma/client";
import {
  decideOwnership,
  decidePayment,
  replayOrConflict,
  settled,
  type LockedRows,
  type OwnedReservation,
  type PaymentPlan,
  type PaymentRequest,
  type PaymentResult,
} from "../payments/decide-payment";
import type { Db } from "./client";
import { toNumber } from "./client";
import { transactionBefore } from "./deadline";
import { dbClock, type DbClock } from "./seat-sql";
import type { TxQuery } from "./sql";

/** A payment as stored, from {@link paymentUnderKey}. */
interface StoredPayment {
  paymentId: number;
  amount: number;
  balance: number;
  reservationIds: number[];
}

/**
 * The payment the user made under `key` as one JSON value (null: none, or no key), for a
 * statement's select list: so it is read in the statement that needs it anyway, not in one of
 * its own. Amounts are at most 2^53 - 1, exact as JSON numbers.
 */
const paymentUnderKey = (userId: number, key: string | undefined): Prisma.Sql =>
  key === undefined
    ? Prisma.sql`NULL::json`
    : Prisma.sql`(
        SELECT json_build_object('paymentId', p.id, 'amount', p.amount, 'balance', p.balance_after,
                                 'reservationIds', ARRAY(SELECT r.id FROM reservation r WHERE r.payment_id = p.id ORDER BY r.id))
          FROM payment p WHERE p.user_id = ${userId} AND p.idempotency_key = ${key})`;

/** The seat and reservation rows a payment locked, as its lock statement reads them. */
interface LockedSeatsAndReservations {
  seats: LockedRows["seats"];
  reservations: LockedRows["reservations"];
}

/** The user's row as the payment's lock of it reads it (none: no such user yet). */
interface LockedUser {
  point: string;
  earlier: StoredPayment | null;
}

/** A stored payment, answered again as a replay (the first answer's fields, in its order). */
const replayOf = (p: StoredPayment | null): PaymentResult | null =>
  p && { paymentId: p.paymentId, reservationIds: p.reservationIds, amount: p.amount, balance: p.balance, status: "PAID", replayed: true };

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
    const [row] = await this.db.sql.query<{ earlier: StoredPayment | null }>(Prisma.sql`SELECT ${paymentUnderKey(userId, key)} AS earlier`);
    return replayOf(row.earlier);
  }

  private async payIn(query: TxQuery, request: PaymentRequest): Promise<PaymentResult> {
    const { userId, reservationIds: ids, idempotencyKey } = request;
    // One round trip, three statements, each on a snapshot of its own, in this order (`many`):
    // 1. before any lock: a payment already made under the key, and who owns the reservations
    //    (ownership never changes, so it can be judged before the locks);
    // 2. the seats, then the reservations, of the user's own reservations among them: a request
    //    naming someone else's locks nothing of theirs, and is refused below;
    // 3. the user's row.
    const [[first], [locked], [user]] = await query.many<
      [{ earlier: StoredPayment | null; owned: OwnedReservation[] }[], LockedSeatsAndReservations[], LockedUser[]]
    >(
      Prisma.sql`
      SELECT ${paymentUnderKey(userId, idempotencyKey)} AS earlier,
             (SELECT coalesce(json_agg(json_build_object('id', id, 'userId', user_id, 'seatId', seat_id)), '[]')
                FROM reservation WHERE id = ANY(${ids}::int[])) AS owned`,
      this.locks(request),
      this.userLock(request),
    );
    const earlier = replayOf(first.earlier);
    if (earlier) return settled(replayOrConflict(request, earlier));
    const notYours = decideOwnership(request, first.owned);
    if (notYours) throw notYours;

    const decision = decidePayment(request, {
      earlier: user ? replayOf(user.earlier) : null,
      seats: locked.seats,
      reservations: locked.reservations,
      balance: user ? toNumber(user.point) : 0,
    });
    if (!("plan" in decision)) return settled(decision);
    return this.write(query, decision.plan);
  }

  /**
   * Lock order: seats, then reservations (this statement), then the user (userLock). The seats
   * and the reservations are the user's own among those asked for (user_id never changes): the
   * seats ascending by id, then the reservations. The reservations' scan waits on the count of
   * every seat row locked (a one-time filter, run before the scan), so Postgres locks all the
   * seats before any reservation whatever plan it picks; each hold's expiry is judged as its row
   * is read, after the seat locks were waited for.
   */
  private locks(request: PaymentRequest): Prisma.Sql {
    const { userId, reservationIds: ids } = request;
    return Prisma.sql`
      WITH s AS (
        SELECT id, status::text AS status, reservation_id FROM seat
         WHERE id = ANY(ARRAY(SELECT seat_id FROM reservation WHERE id = ANY(${ids}::int[]) AND user_id = ${userId}))
         ORDER BY id FOR NO KEY UPDATE
      ), r AS (
        SELECT id, seat_id, status::text AS status, price, expires_at <= ${this.clock.current()} AS expired
          FROM reservation WHERE id = ANY(${ids}::int[]) AND user_id = ${userId} AND (SELECT count(*) FROM s) >= 0 ORDER BY id FOR NO KEY UPDATE
      )
      SELECT (SELECT coalesce(json_agg(json_build_object('id', id, 'status', status, 'reservationId', reservation_id) ORDER BY id), '[]') FROM s) AS seats,
             (SELECT coalesce(json_agg(json_build_object('id', id, 'seatId', seat_id, 'status', status, 'price', price, 'expired', expired) ORDER BY id), '[]')
                FROM r) AS reservations`;
  }

  /**
   * The user's row, and again a payment under the key: its statement starts after the seat and
   * reservation locks, on a snapshot of its own, so a request with the same key for these
   * reservations that committed while we waited is seen; one for other reservations, which only
   * shares the user's lock, trips the key's unique index instead (payReservations answers it as
   * a replay). No user row: balance 0, and no payment of theirs can exist.
   */
  private userLock(request: PaymentRequest): Prisma.Sql {
    const { userId, idempotencyKey } = request;
    return Prisma.sql`
      SELECT point, ${paymentUnderKey(userId, idempotencyKey)} AS earlier FROM users WHERE id = ${userId} FOR NO KEY UPDATE`;
  }

  private async write(query: TxQuery, plan: PaymentPlan): Promise<PaymentResult> {
    const { userId, amount, reservationIds, seatIds } = plan;
    // one statement (its rows are all locked already), sent with the COMMIT: debit, payment,
    // ledger row, reservations confirmed, seats sold
    const [payment] = await query.commitWith<{
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
}
