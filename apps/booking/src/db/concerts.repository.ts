import type { Db } from "./client";

export interface ScheduleRow {
  concertDetailId: number;
  startsAt: Date;
  seatPrice: number;
  availableSeats: number;
}

/** "Free" everywhere: FREE, or HELD by a hold that has expired (on the database clock). */
const FREE = `(s.status = 'FREE' OR (s.status = 'HELD' AND s.hold_until <= now()))`;

export class ConcertsRepository {
  constructor(private readonly db: Db) {}

  async findConcertName(concertId: number): Promise<string | null> {
    const concert = await this.db.concert.findUnique({ where: { id: concertId }, select: { name: true } });
    return concert?.name ?? null;
  }

  /** Future performances of the concert that still have a free seat, soonest first. */
  async listBookableSchedules(concertId: number): Promise<ScheduleRow[]> {
    const rows = await this.db.$queryRawUnsafe<{ id: number; starts_at: Date; seat_price: number; available: number }[]>(
      `SELECT cd.id, cd.starts_at, cd.seat_price, count(*) FILTER (WHERE ${FREE})::int AS available
         FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
        WHERE cd.concert_id = $1 AND cd.starts_at > now()
        GROUP BY cd.id
       HAVING count(*) FILTER (WHERE ${FREE}) > 0
        ORDER BY cd.starts_at, cd.id`,
      concertId,
    );
    return rows.map((r) => ({
      concertDetailId: r.id,
      startsAt: r.starts_at,
      seatPrice: r.seat_price,
      availableSeats: r.available,
    }));
  }

  /** null when the performance does not exist; [] when it has started or is sold out. */
  async listFreeSeatNumbers(concertDetailId: number): Promise<number[] | null> {
    const rows = await this.db.$queryRawUnsafe<{ seat_no: number | null; exists: boolean }[]>(
      `SELECT s.seat_no, true AS exists
         FROM concert_detail cd LEFT JOIN seat s
           ON s.concert_detail_id = cd.id AND cd.starts_at > now() AND ${FREE}
        WHERE cd.id = $1
        ORDER BY s.seat_no`,
      concertDetailId,
    );
    if (rows.length === 0) return null;
    return rows.flatMap((r) => (r.seat_no === null ? [] : [r.seat_no]));
  }
}
