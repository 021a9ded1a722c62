import type { Db } from "./client";
import { transactionBefore } from "./deadline";
import { dbClock, liveHoldCount, seatHoldExpired, seatIsFree, type DbClock } from "./seat-sql";

export interface HeldReservation {
  reservationId: number;
  concertDetailId: number;
  seatNo: number;
  price: number;
  expiresAt: Date;
  /** the DbClock's time when the hold was written */
  dbNow: Date;
}

export type HoldRefusal = "PERFORMANCE_NOT_FOUND" | "SEAT_NOT_FOUND" | "PERFORMANCE_STARTED" | "HOLD_LIMIT" | "SEAT_UNAVAILABLE";

export interface ExpiredHold {
  reservationId: number;
  concertDetailId: number;
  seatNo: number;
}

/** Thrown inside the hold's transaction to roll it back when the user's limit is reached. */
class HoldLimitReached extends Error {}

export class ReservationsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /**
   * Holds a seat in ONE transaction on the DbClock (the database's), bounded by `deadline` (ms
   * since epoch, see transactionBefore). Lock order seat → user, as payments take seat →
   * reservation → user, so holds and payments cannot deadlock:
   * 1. the conditional UPDATE of the seat row (FREE, or HELD with an expired hold, of a future
   *    performance) is what Postgres serialises: of any number of concurrent holds of a seat
   *    exactly one gets a row back;
   * 2. the user's row (created with balance 0 if unknown) is locked FOR NO KEY UPDATE, so one
   *    user's holds take turns here whatever Redlock did;
   * 3. only then, in a statement of its own (READ COMMITTED: a fresh snapshot, which sees every
   *    hold committed by whoever had the user's lock before), the live holds are counted and the
   *    reservation is inserted if fewer than `maxHolds`; otherwise everything rolls back.
   * Returns null when nothing was held (`explainRefusal` says why). With `idempotencyKey`, a
   * concurrent hold under the same key makes it throw UniqueViolation.
   */
  async holdSeat(input: {
    userId: number;
    concertDetailId: number;
    seatNo: number;
    ttlMs: number;
    maxHolds: number;
    deadline: number;
    idempotencyKey?: string;
  }): Promise<HeldReservation | null> {
    const { userId, concertDetailId, seatNo, ttlMs, maxHolds } = input;
    const now = this.clock.now();
    return transactionBefore(this.db, input.deadline, async (tx) => {
      const [seat] = await tx.$queryRaw<{ id: number; reservation_id: number; hold_until: Date; seat_price: number }[]>`
        UPDATE seat s
           SET status = 'HELD',
               hold_until = ${now} + ${ttlMs}::int * interval '1 millisecond',
               reservation_id = nextval(pg_get_serial_sequence('reservation', 'id'))
          FROM concert_detail d
         WHERE s.concert_detail_id = ${concertDetailId} AND s.seat_no = ${seatNo}
           AND d.id = s.concert_detail_id AND d.starts_at > ${now}
           AND ${seatIsFree(now)}
        RETURNING s.id, s.reservation_id, s.hold_until, d.seat_price`;
      if (!seat) return null;
      await tx.$executeRaw`INSERT INTO users (id) VALUES (${userId}) ON CONFLICT (id) DO NOTHING`;
      await tx.$queryRaw`SELECT id FROM users WHERE id = ${userId} FOR NO KEY UPDATE`;
      const rows = await tx.$queryRaw<{ id: number; price: number; expires_at: Date; db_now: Date }[]>`
        INSERT INTO reservation (id, user_id, concert_detail_id, seat_id, seat_no, price, status, expires_at, idempotency_key)
        SELECT ${seat.reservation_id}, ${userId}, ${concertDetailId}, ${seat.id}, ${seatNo}, ${seat.seat_price}, 'HELD', ${seat.hold_until},
               ${input.idempotencyKey ?? null}
         WHERE ${liveHoldCount(userId, now)} < ${maxHolds}
        RETURNING id, price, expires_at, ${now} AS db_now`;
      if (rows.length === 0) throw new HoldLimitReached(); // rolls the seat back
      const r = rows[0];
      return { reservationId: r.id, concertDetailId, seatNo, price: r.price, expiresAt: r.expires_at, dbNow: r.db_now };
    }).catch((err: unknown) => {
      if (err instanceof HoldLimitReached) return null;
      throw err;
    });
  }

  /** The hold the user made under `key` (Idempotency-Key), whatever has become of it since. */
  async findByKey(userId: number, key: string): Promise<HeldReservation | null> {
    const [r] = await this.db.$queryRaw<
      { id: number; concert_detail_id: number; seat_no: number; price: number; expires_at: Date; created_at: Date }[]
    >`
      SELECT id, concert_detail_id, seat_no, price, expires_at, created_at
        FROM reservation WHERE user_id = ${userId} AND idempotency_key = ${key}`;
    if (!r) return null;
    return {
      reservationId: r.id,
      concertDetailId: r.concert_detail_id,
      seatNo: r.seat_no,
      price: r.price,
      expiresAt: r.expires_at,
      dbNow: r.created_at,
    };
  }

  /** Why `holdSeat` returned null (read after the fact; good enough to pick the error code). */
  async explainRefusal(input: { userId: number; concertDetailId: number; seatNo: number; maxHolds: number }): Promise<HoldRefusal> {
    const now = this.clock.now();
    const [r] = await this.db.$queryRaw<{ future: boolean | null; seat: boolean; active: number }[]>`
      SELECT (SELECT starts_at > ${now} FROM concert_detail WHERE id = ${input.concertDetailId}) AS future,
             EXISTS (SELECT 1 FROM seat WHERE concert_detail_id = ${input.concertDetailId} AND seat_no = ${input.seatNo}) AS seat,
             ${liveHoldCount(input.userId, now)} AS active`;
    if (r.future === null) return "PERFORMANCE_NOT_FOUND";
    if (!r.seat) return "SEAT_NOT_FOUND";
    if (!r.future) return "PERFORMANCE_STARTED";
    if (r.active >= input.maxHolds) return "HOLD_LIMIT";
    return "SEAT_UNAVAILABLE";
  }

  /**
   * Marks up to `limit` expired holds EXPIRED. SKIP LOCKED: rows a payment (or another
   * instance's sweep) is working on are left alone, so any number of instances can sweep at once
   * and a sweep never waits on, or deadlocks with, a payment.
   */
  async expireHolds(limit: number): Promise<ExpiredHold[]> {
    const rows = await this.db.$queryRaw<{ id: number; concert_detail_id: number; seat_no: number }[]>`
      UPDATE reservation SET status = 'EXPIRED'
       WHERE id IN (SELECT id FROM reservation
                     WHERE status = 'HELD' AND expires_at <= ${this.clock.now()}
                     ORDER BY expires_at LIMIT ${limit}
                     FOR UPDATE SKIP LOCKED)
         AND status = 'HELD'
      RETURNING id, concert_detail_id, seat_no`;
    return rows.map((r) => ({ reservationId: r.id, concertDetailId: r.concert_detail_id, seatNo: r.seat_no }));
  }

  /** Frees up to `limit` seats whose hold has expired (queries already treat them as free). */
  async freeExpiredSeats(limit: number): Promise<number> {
    const now = this.clock.now();
    return this.db.$executeRaw`
      UPDATE seat s SET status = 'FREE', hold_until = NULL, reservation_id = NULL
       WHERE s.id IN (SELECT s.id FROM seat s
                       WHERE ${seatHoldExpired(now)}
                       LIMIT ${limit}
                       FOR UPDATE SKIP LOCKED)
         AND ${seatHoldExpired(now)}`;
  }
}
