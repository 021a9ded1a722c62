import type { Db } from "./client";
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

export class ReservationsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /**
   * Holds a seat in ONE statement, on the DbClock (the database's): the conditional UPDATE of the seat row
   * (FREE, or HELD with an expired hold) is what Postgres serialises, so of any number of
   * concurrent holds of a seat exactly one gets a row back. The same statement checks the
   * performance is in the future and the user holds fewer than `maxHolds` live seats, creates
   * the user (balance 0) if unknown, and inserts the reservation with the seat's new hold time.
   * Returns null when nothing was held; `explainRefusal` says why.
   */
  async holdSeat(input: {
    userId: number;
    concertDetailId: number;
    seatNo: number;
    ttlMs: number;
    maxHolds: number;
  }): Promise<HeldReservation | null> {
    const { userId, concertDetailId, seatNo, ttlMs, maxHolds } = input;
    const now = this.clock.now();
    const rows = await this.db.$queryRaw<{ id: number; price: number; expires_at: Date; db_now: Date }[]>`
      WITH detail AS (
        SELECT id, seat_price FROM concert_detail WHERE id = ${concertDetailId} AND starts_at > ${now}
      ), held AS (
        UPDATE seat s
           SET status = 'HELD',
               hold_until = ${now} + ${ttlMs}::int * interval '1 millisecond',
               reservation_id = nextval(pg_get_serial_sequence('reservation', 'id'))
         WHERE s.concert_detail_id = ${concertDetailId} AND s.seat_no = ${seatNo}
           AND ${seatIsFree(now)}
           AND EXISTS (SELECT 1 FROM detail)
           AND ${liveHoldCount(userId, now)} < ${maxHolds}
        RETURNING s.id, s.reservation_id, s.hold_until
      ), new_user AS (
        INSERT INTO users (id) SELECT ${userId} FROM held ON CONFLICT (id) DO NOTHING
      )
      INSERT INTO reservation (id, user_id, concert_detail_id, seat_id, seat_no, price, status, expires_at)
      SELECT held.reservation_id, ${userId}, ${concertDetailId}, held.id, ${seatNo}, detail.seat_price, 'HELD', held.hold_until
        FROM held, detail
      RETURNING id, price, expires_at, ${now} AS db_now`;
    if (rows.length === 0) return null;
    const r = rows[0];
    return { reservationId: r.id, concertDetailId, seatNo, price: r.price, expiresAt: r.expires_at, dbNow: r.db_now };
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
