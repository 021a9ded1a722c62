import type { CancelView, RefundView } from "@concert/shared";
import { Prisma } from "../generated/prisma/client";
import {
  decideCancel,
  decideCancelOwner,
  keyConflict,
  type CancelInput,
  type LockedCancel,
  type RefundPlan,
} from "../refunds/decide-cancel";
import type { Db } from "./client";
import { toNumber } from "./client";
import { transactionBefore } from "./deadline";
import { MAX_BALANCE } from "./points.repository";
import { dbClock, type DbClock } from "./seat-sql";
import type { Query } from "./sql";

/** A cancelled reservation, as answered (the first time and on every replay). */
export interface Cancelled extends CancelView {
  concertDetailId: number;
  seatNo: number;
}

/** The answer of a cancelled reservation: the reservation joined with its REFUND row. */
const cancelledSql = (where: Prisma.Sql) => Prisma.sql`
  SELECT r.id, r.concert_detail_id, r.seat_no, r.cancelled_at, l.id AS ledger_id, l.amount, l.payment_id, l.balance_after
    FROM reservation r JOIN point_ledger l ON l.reservation_id = r.id
   WHERE ${where}`;

interface CancelledRow {
  id: number;
  concert_detail_id: number;
  seat_no: number;
  cancelled_at: Date;
  ledger_id: number;
  /** bigint columns: strings from plain pg */
  amount: string;
  payment_id: number;
  balance_after: string;
}

/** A REFUND row as answered (the cancel's answer and "my tickets" alike). */
export function refundView(r: { ledger_id: number; amount: bigint | string; payment_id: number; cancelled_at: Date }): RefundView {
  return { amount: toNumber(r.amount), paymentId: r.payment_id, ledgerId: r.ledger_id, refundedAt: r.cancelled_at.toISOString() };
}

function cancelledView(r: CancelledRow): Cancelled {
  return {
    reservationId: r.id,
    status: "CANCELLED",
    refund: refundView(r),
    balance: toNumber(r.balance_after),
    concertDetailId: r.concert_detail_id,
    seatNo: r.seat_no,
  };
}

/**
 * A cancel in ONE transaction: this reads and locks the rows, decideCancel decides, this writes
 * the plan. Locks in the order every writer takes them: seat → reservation → user. Exactly once:
 * the reservation's status is read under its lock (a second cancel waits, then sees CANCELLED),
 * and point_ledger.reservation_id is unique, so a second REFUND row cannot exist whatever happens.
 */
export class RefundsRepository {
  constructor(
    private readonly db: Db,
    /** how long before a performance starts cancelling stops (CANCEL_DEADLINE_SEC) */
    private readonly cancelDeadlineSec: number,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /** Cancels and refunds, replays or refuses (AppError). With `deadline` (ms since epoch) nothing commits after it. */
  async cancel(input: CancelInput, deadline?: number): Promise<Cancelled> {
    return transactionBefore(this.db, deadline, (query) => this.cancelIn(query, input));
  }

  /** The reservation this user cancelled under `key`, or null. */
  async findByKey(userId: number, key: string): Promise<Cancelled | null> {
    const [r] = await this.db.sql.query<CancelledRow>(
      cancelledSql(Prisma.sql`r.user_id = ${userId} AND r.cancel_idempotency_key = ${key}`),
    );
    return r ? cancelledView(r) : null;
  }

  private async cancelIn(query: Query, input: CancelInput): Promise<Cancelled> {
    const [owned] = await query<{ user_id: number; seat_id: number }>(Prisma.sql`
      SELECT user_id, seat_id FROM reservation WHERE id = ${input.reservationId}`);
    const notYours = decideCancelOwner(input, owned?.user_id ?? null);
    if (notYours) throw notYours;
    if (input.idempotencyKey) {
      const [used] = await query<{ id: number }>(Prisma.sql`
        SELECT id FROM reservation WHERE user_id = ${input.userId} AND cancel_idempotency_key = ${input.idempotencyKey}`);
      const conflict = keyConflict(input, used?.id ?? null);
      if (conflict) throw conflict;
    }
    const decision = decideCancel(input, await this.lock(query, input, owned.seat_id));
    if ("refusal" in decision) throw decision.refusal;
    if ("replay" in decision) return decision.replay;
    return this.write(query, decision.plan);
  }

  /** Lock order: the seat, then the reservation, then the user. */
  private async lock(query: Query, input: CancelInput, seatId: number): Promise<LockedCancel<Cancelled>> {
    await query(Prisma.sql`SELECT id FROM seat WHERE id = ${seatId} FOR NO KEY UPDATE`);
    const now = this.clock.current();
    const [r] = await query<{
      id: number;
      user_id: number;
      seat_id: number;
      status: string;
      price: number;
      payment_id: number | null;
      cancel_idempotency_key: string | null;
      cancel_deadline: Date;
      deadline_passed: boolean;
    }>(Prisma.sql`
      SELECT r.id, r.user_id, r.seat_id, r.status::text, r.price, r.payment_id, r.cancel_idempotency_key,
             d.starts_at - ${this.cancelDeadlineSec}::int * interval '1 second' AS cancel_deadline,
             d.starts_at - ${this.cancelDeadlineSec}::int * interval '1 second' <= ${now} AS deadline_passed
        FROM reservation r JOIN concert_detail d ON d.id = r.concert_detail_id
       WHERE r.id = ${input.reservationId}
         FOR NO KEY UPDATE OF r`);
    const [payment] = await query<{ amount: string; refunded: string }>(Prisma.sql`
      SELECT p.amount, (SELECT coalesce(sum(l.amount), 0) FROM point_ledger l WHERE l.payment_id = p.id AND l.type = 'REFUND')::bigint AS refunded
        FROM payment p WHERE p.id = ${r.payment_id}`);
    const [earlier] = await query<CancelledRow>(cancelledSql(Prisma.sql`r.id = ${r.id}`));
    const [user] = await query<{ point: string }>(Prisma.sql`SELECT point FROM users WHERE id = ${input.userId} FOR NO KEY UPDATE`);
    return {
      reservation: {
        id: r.id,
        userId: r.user_id,
        seatId: r.seat_id,
        status: r.status,
        price: r.price,
        paymentId: r.payment_id,
        cancelKey: r.cancel_idempotency_key,
        deadlinePassed: r.deadline_passed,
        cancelDeadline: r.cancel_deadline,
      },
      payment: payment ? { amount: toNumber(payment.amount), refunded: toNumber(payment.refunded) } : { amount: 0, refunded: 0 },
      earlier: earlier ? cancelledView(earlier) : null,
      balance: user ? toNumber(user.point) : 0,
      maxBalance: MAX_BALANCE,
    };
  }

  /** Cancels the reservation, frees its seat (only if the seat is still this reservation's) and credits the refund. */
  private async write(query: Query, plan: RefundPlan): Promise<Cancelled> {
    const now = this.clock.current();
    await query(Prisma.sql`
      UPDATE reservation SET status = 'CANCELLED', cancelled_at = ${now}, cancel_idempotency_key = ${plan.idempotencyKey ?? null}
       WHERE id = ${plan.reservationId}`);
    await query(Prisma.sql`
      UPDATE seat SET status = 'FREE', reservation_id = NULL, hold_until = NULL
       WHERE id = ${plan.seatId} AND reservation_id = ${plan.reservationId}`);
    await query(Prisma.sql`
      WITH credited AS (
        UPDATE users SET point = point + ${BigInt(plan.amount)} WHERE id = ${plan.userId} RETURNING point
      )
      INSERT INTO point_ledger (user_id, type, amount, balance_after, payment_id, reservation_id)
      SELECT ${plan.userId}, 'REFUND', ${BigInt(plan.amount)}, point, ${plan.paymentId}, ${plan.reservationId} FROM credited`);
    const [r] = await query<CancelledRow>(cancelledSql(Prisma.sql`r.id = ${plan.reservationId}`));
    return cancelledView(r);
  }
}
