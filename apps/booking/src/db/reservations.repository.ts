import { Prisma } from "../generated/prisma/client";
import type { Db } from "./client";
import { transactionBefore } from "./deadline";
import type { Query } from "./sql";
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

/** Thrown inside the hold's transaction to roll it back: a seat was not free, or the user's limit is reached. */
class HoldRefused extends Error {}

/** The SQLSTATE of hold_refused() (prisma/migrations/*_hold_refused): the hold's statement refused it. */
const HOLD_REFUSED = "CH409";

export type ReservationStatus = "HELD" | "CONFIRMED" | "EXPIRED" | "CANCELLED";

/** What a release did: the reservation as it is now, or why nothing changed (with the reservation's status). */
export type ReleaseOutcome =
  | { released: HeldReservation }
  | { refused: "NOT_FOUND" | "NOT_OWNER" }
  | { refused: "ALREADY_PAID" | "NOT_HELD"; status: ReservationStatus };

export class ReservationsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  /**
   * Holds every seat of `seatNos` (ascending, distinct) or none, in ONE transaction on the
   * DbClock (the database's), bounded by `deadline` (ms since epoch, see transactionBefore).
   * Lock order seat → user, as payments take seat → reservation → user, and the seats in id
   * order, as payments do, so holds (of any overlapping sets) and payments cannot deadlock:
   * 1. several seats: their rows are locked in id order first; then the conditional UPDATE of the
   *    seat rows (FREE, or HELD with an expired hold, of a future performance) is what Postgres
   *    serialises: of concurrent holds of a seat exactly one gets its row back, and a hold that
   *    gets fewer rows than it asked for rolls back whole;
   * 2. in the same statement, once every seat row is had, the user's row (created with balance 0
   *    if unknown) is locked FOR NO KEY UPDATE, so one user's holds take turns here whatever
   *    Redlock did;
   * 3. only then, in a statement of its own (READ COMMITTED: a fresh snapshot, which sees every
   *    hold committed by whoever had the user's lock before), the live holds are counted and the
   *    reservations are inserted if every seat was had and the user's holds stay within
   *    `maxHolds`; else all rolls back.
   * The three go to Postgres in one message with the BEGIN and the COMMIT (db/sql.ts
   * `commitWith`), so a hold costs one round trip; a refused one fails its last statement, which
   * skips the COMMIT, and a ROLLBACK follows.
   * Returns the holds ascending by seat, or null when nothing was held (`explainRefusal` says
   * why). Several seats are one hold group (`hold_group_id`, its first reservation's id); the
   * Idempotency-Key is written on the first row. A concurrent hold under the same key makes it
   * throw UniqueViolation.
   */
  async holdSeats(input: {
    userId: number;
    concertDetailId: number;
    seatNos: readonly number[];
    ttlMs: number;
    maxHolds: number;
    deadline: number;
    idempotencyKey?: string;
  }): Promise<HeldReservation[] | null> {
    const { userId, concertDetailId, seatNos, ttlMs, maxHolds } = input;
    const now = this.clock.now();
    const wanted = [...seatNos];
    return transactionBefore(this.db, input.deadline, async (query) => {
      // All of it in one round trip with BEGIN and COMMIT, each statement on a snapshot of its
      // own, in order (a refusal: a ROLLBACK follows).
      const statements: Prisma.Sql[] = [];
      if (wanted.length > 1) {
        statements.push(Prisma.sql`
          SELECT id FROM seat WHERE concert_detail_id = ${concertDetailId} AND seat_no = ANY(${wanted}::int[]) ORDER BY id FOR NO KEY UPDATE`);
      }
      // The seats, then the user's row, in one statement. The user's row is created at 0 if
      // unknown and locked either way: the no-op update takes the row lock a SELECT … FOR NO KEY
      // UPDATE would (point is no key column), and a user inserted by a concurrent hold is waited
      // for, then locked. Its INSERT reads from the count of every seat row the UPDATE returned,
      // so Postgres runs it only after all the seats are locked (lock order seat → user whatever
      // plan it picks), and only when every seat was had: a refused hold takes no user lock.
      statements.push(Prisma.sql`
        WITH held AS (
          UPDATE seat s
             SET status = 'HELD',
                 hold_until = ${now} + ${ttlMs}::int * interval '1 millisecond',
                 reservation_id = nextval(pg_get_serial_sequence('reservation', 'id'))
            FROM concert_detail d
           WHERE s.concert_detail_id = ${concertDetailId} AND s.seat_no = ANY(${wanted}::int[])
             AND d.id = s.concert_detail_id AND d.starts_at > ${now}
             AND ${seatIsFree(now)}
          RETURNING s.id
        ), holder AS (
          INSERT INTO users (id)
          SELECT ${userId}::int FROM (SELECT count(*)::int AS n FROM held) c WHERE c.n = ${wanted.length}::int
          ON CONFLICT (id) DO UPDATE SET point = users.point
          RETURNING id
        )
        SELECT count(*) FROM held, holder`);
      // The reservations, on a fresh snapshot (it sees every hold committed by whoever had the
      // user's lock before): one per seat this transaction made HELD, only when it made every
      // seat HELD and the user's live holds stay within maxHolds. The lowest seat's reservation
      // carries the Idempotency-Key and, for several seats, names the hold group. A seat row
      // this transaction made HELD is the version its own UPDATE wrote: its xmin (the writing
      // transaction's id, a Postgres system column) is this transaction's. That reads no other
      // table, so no plan can turn it into a scan of the reservations (a cached generic plan
      // made while the table was small did: a sequential scan per hold).
      statements.push(Prisma.sql`
        WITH mine AS (
          SELECT s.reservation_id AS id, s.id AS seat_id, s.seat_no, s.hold_until, d.seat_price
            FROM seat s JOIN concert_detail d ON d.id = s.concert_detail_id
           WHERE s.concert_detail_id = ${concertDetailId} AND s.seat_no = ANY(${wanted}::int[])
             AND s.xmin = pg_current_xact_id()::xid
        ), head AS (
          SELECT id FROM mine ORDER BY seat_no LIMIT 1
        ), made AS (
          INSERT INTO reservation (id, user_id, concert_detail_id, seat_id, seat_no, price, status, expires_at, idempotency_key, hold_group_id)
          SELECT m.id, ${userId}, ${concertDetailId}, m.seat_id, m.seat_no, m.seat_price, 'HELD', m.hold_until,
                 CASE WHEN m.id = (SELECT id FROM head) THEN ${input.idempotencyKey ?? null} END,
                 CASE WHEN ${wanted.length}::int > 1 THEN (SELECT id FROM head) END
            FROM mine m
           WHERE (SELECT count(*) FROM mine) = ${wanted.length}::int
             AND ${liveHoldCount(userId, now)} + ${wanted.length}::int <= ${maxHolds}
          RETURNING id, seat_no, price, expires_at
        )
        SELECT id, seat_no, price, expires_at, ${now} AS db_now FROM made
        UNION ALL -- Postgres runs every branch of an append: this one answers no row, or refuses
        SELECT NULL, NULL, NULL, NULL, NULL
         WHERE CASE WHEN (SELECT count(*) FROM made) = ${wanted.length}::int THEN false ELSE hold_refused() END`);
      // with the COMMIT: a refusal fails the last statement (hold_refused(), SQLSTATE CH409), so
      // the COMMIT is skipped and the seats the first one took roll back
      const rows = await query
        .commitWith<{ id: number; seat_no: number; price: number; expires_at: Date; db_now: Date }>(...statements)
        .catch((err: unknown) => {
          throw (err as { code?: unknown }).code === HOLD_REFUSED ? new HoldRefused() : err;
        });
      return rows
        .map((r) => ({ reservationId: r.id, concertDetailId, seatNo: r.seat_no, price: r.price, expiresAt: r.expires_at, dbNow: r.db_now }))
        .sort((a, b) => a.seatNo - b.seatNo);
    }).catch((err: unknown) => {
      if (err instanceof HoldRefused) return null;
      throw err;
    });
  }

  /** The hold the user made under `key` (Idempotency-Key), every seat of it, whatever has become of them since. */
  async findByKey(userId: number, key: string): Promise<HeldReservation[] | null> {
    const rows = await this.db.sql.query<{
      id: number;
      concert_detail_id: number;
      seat_no: number;
      price: number;
      expires_at: Date;
      created_at: Date;
    }>(Prisma.sql`
      SELECT r.id, r.concert_detail_id, r.seat_no, r.price, r.expires_at, r.created_at
        FROM reservation k JOIN reservation r ON r.id = k.id OR r.hold_group_id = k.hold_group_id
       WHERE k.user_id = ${userId} AND k.idempotency_key = ${key}
       ORDER BY r.seat_no`);
    if (rows.length === 0) return null;
    return rows.map((r) => ({
      reservationId: r.id,
      concertDetailId: r.concert_detail_id,
      seatNo: r.seat_no,
      price: r.price,
      expiresAt: r.expires_at,
      dbNow: r.created_at,
    }));
  }

  /** Why `holdSeats` returned null (read after the fact; good enough to pick the error code), with the seats that were not free. */
  async explainRefusal(input: {
    userId: number;
    concertDetailId: number;
    seatNos: readonly number[];
    maxHolds: number;
  }): Promise<{ why: HoldRefusal; seatNos: number[] }> {
    const now = this.clock.now();
    const wanted = [...input.seatNos];
    const [r] = await this.db.$queryRaw<{ future: boolean | null; missing: number[] | null; taken: number[] | null; active: number }[]>`
      SELECT (SELECT starts_at > ${now} FROM concert_detail WHERE id = ${input.concertDetailId}) AS future,
             (SELECT array_agg(n ORDER BY n) FROM unnest(${wanted}::int[]) AS n
               WHERE NOT EXISTS (SELECT 1 FROM seat WHERE concert_detail_id = ${input.concertDetailId} AND seat_no = n)) AS missing,
             (SELECT array_agg(s.seat_no ORDER BY s.seat_no) FROM seat s
               WHERE s.concert_detail_id = ${input.concertDetailId} AND s.seat_no = ANY(${wanted}::int[]) AND NOT ${seatIsFree(now)}) AS taken,
             ${liveHoldCount(input.userId, now)} AS active`;
    const taken = r.taken ?? [];
    if (r.future === null) return { why: "PERFORMANCE_NOT_FOUND", seatNos: [] };
    if (r.missing) return { why: "SEAT_NOT_FOUND", seatNos: r.missing };
    if (!r.future) return { why: "PERFORMANCE_STARTED", seatNos: [] };
    if (r.active + wanted.length > input.maxHolds) return { why: "HOLD_LIMIT", seatNos: [] };
    // taken meanwhile and freed again: every seat asked for is named
    return { why: "SEAT_UNAVAILABLE", seatNos: taken.length ? taken : wanted };
  }

  /**
   * Ends the user's live hold of reservation `reservationId` at once: the reservation becomes
   * EXPIRED (an unpaid hold that ended; CANCELLED is a paid one given back) with `expires_at`
   * now, and its seat FREE. Locks seat → reservation, as payments do, so a release and a payment
   * of the same hold take turns and the second sees what the first did.
   */
  async release(input: { userId: number; reservationId: number; deadline?: number }): Promise<ReleaseOutcome> {
    const now = this.clock.now();
    const [owned] = await this.db.sql.query<{ user_id: number; seat_id: number }>(Prisma.sql`
      SELECT user_id, seat_id FROM reservation WHERE id = ${input.reservationId}`);
    if (!owned) return { refused: "NOT_FOUND" };
    if (owned.user_id !== input.userId) return { refused: "NOT_OWNER" };
    const work = async (query: Query): Promise<ReleaseOutcome> => {
      await query(Prisma.sql`SELECT id FROM seat WHERE id = ${owned.seat_id} FOR NO KEY UPDATE`);
      const [r] = await query<{ status: ReservationStatus; live: boolean }>(Prisma.sql`
        SELECT status::text AS status, expires_at > ${now} AS live FROM reservation WHERE id = ${input.reservationId} FOR NO KEY UPDATE`);
      if (r.status === "CONFIRMED") return { refused: "ALREADY_PAID", status: r.status };
      if (r.status !== "HELD" || !r.live) return { refused: "NOT_HELD", status: r.status === "HELD" ? "EXPIRED" : r.status };
      const [released] = await query<{
        id: number;
        concert_detail_id: number;
        seat_no: number;
        price: number;
        expires_at: Date;
      }>(Prisma.sql`
        UPDATE reservation SET status = 'EXPIRED', expires_at = ${now}
         WHERE id = ${input.reservationId}
        RETURNING id, concert_detail_id, seat_no, price, expires_at`);
      await query(Prisma.sql`
        UPDATE seat SET status = 'FREE', hold_until = NULL, reservation_id = NULL
         WHERE id = ${owned.seat_id} AND reservation_id = ${input.reservationId}`);
      return {
        released: {
          reservationId: released.id,
          concertDetailId: released.concert_detail_id,
          seatNo: released.seat_no,
          price: released.price,
          expiresAt: released.expires_at,
          dbNow: released.expires_at,
        },
      };
    };
    return transactionBefore(this.db, input.deadline, work);
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
