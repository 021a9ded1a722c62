import { INVENTORY_MAX_DATES, type InventorySnapshot } from "@concert/shared";
import type { Db } from "./client";
import { dbClock, seatIsFree, type DbClock } from "./seat-sql";

export interface PerformanceRow {
  concertDetailId: number;
  startsAt: Date;
  seatPrice: number;
  availableSeats: number;
}

export class ConcertsRepository {
  constructor(
    private readonly db: Db,
    private readonly clock: DbClock = dbClock(),
  ) {}

  async findConcertName(concertId: number): Promise<string | null> {
    const concert = await this.db.concert.findUnique({ where: { id: concertId }, select: { name: true } });
    return concert?.name ?? null;
  }

  /** Future performances of the concert that still have a free seat, soonest first. */
  async listBookablePerformances(concertId: number): Promise<PerformanceRow[]> {
    const now = this.clock.now();
    const rows = await this.db.$queryRaw<{ id: number; starts_at: Date; seat_price: number; available: number }[]>`
      SELECT cd.id, cd.starts_at, cd.seat_price, count(*) FILTER (WHERE ${seatIsFree(now)})::int AS available
        FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
       WHERE cd.concert_id = ${concertId} AND cd.starts_at > ${now}
       GROUP BY cd.id
      HAVING count(*) FILTER (WHERE ${seatIsFree(now)}) > 0
       ORDER BY cd.starts_at, cd.id`;
    return rows.map((r) => ({
      concertDetailId: r.id,
      startsAt: r.starts_at,
      seatPrice: r.seat_price,
      availableSeats: r.available,
    }));
  }

  /** null when the performance does not exist; [] when it has started or is sold out. */
  async listFreeSeatNumbers(concertDetailId: number): Promise<number[] | null> {
    const now = this.clock.now();
    const rows = await this.db.$queryRaw<{ seat_no: number | null; exists: boolean }[]>`
      SELECT s.seat_no, true AS exists
        FROM concert_detail cd LEFT JOIN seat s
          ON s.concert_detail_id = cd.id AND cd.starts_at > ${now} AND ${seatIsFree(now)}
       WHERE cd.id = ${concertDetailId}
       ORDER BY s.seat_no`;
    if (rows.length === 0) return null;
    return rows.flatMap((r) => (r.seat_no === null ? [] : [r.seat_no]));
  }

  /** Free, held and sold seats of every future performance (the soonest INVENTORY_MAX_DATES), for operators. */
  async inventory(): Promise<InventorySnapshot> {
    const now = this.clock.now();
    const rows = await this.db.$queryRaw<
      { concert_id: number; id: number; starts_at: Date; free: number; held: number; sold: number; at: Date }[]
    >`
      SELECT cd.concert_id, cd.id, cd.starts_at,
             count(*) FILTER (WHERE ${seatIsFree(now)})::int AS free,
             count(*) FILTER (WHERE s.status = 'HELD' AND s.hold_until > ${now})::int AS held,
             count(*) FILTER (WHERE s.status = 'SOLD')::int AS sold,
             ${now} AS at
        FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
       WHERE cd.starts_at > ${now}
       GROUP BY cd.id
       ORDER BY cd.starts_at, cd.id
       LIMIT ${INVENTORY_MAX_DATES}`;
    return {
      at: (rows[0]?.at ?? new Date()).toISOString(),
      dates: rows.map((r) => ({
        concertId: r.concert_id,
        concertDetailId: r.id,
        startsAt: r.starts_at.toISOString(),
        free: r.free,
        held: r.held,
        sold: r.sold,
      })),
    };
  }
}
