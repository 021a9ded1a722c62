import type { Db } from "./client";

export interface SeedOptions {
  concertId?: number;
  concertName?: string;
  /** how many future performances the concert must have */
  performances?: number;
  seatPrice?: number;
  seatsPerPerformance?: number;
}

export interface SeedResult {
  concertId: number;
  concertDetailIds: number[];
  created: number;
}

/**
 * Demo data, idempotent: concert 1 with at least `performances` future performances of 50 seats.
 * Running it again creates nothing while enough future performances exist; as dates pass it
 * adds new ones. Times are taken from the database clock.
 */
export async function seed(db: Db, options: SeedOptions = {}): Promise<SeedResult> {
  const concertId = options.concertId ?? 1;
  const performances = options.performances ?? 3;
  const seatPrice = options.seatPrice ?? 50_000;
  const seatsPerPerformance = options.seatsPerPerformance ?? 50;

  return db.$transaction(async (tx) => {
    // Serialise concurrent seeds of the same concert.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(734001, ${concertId})`;
    await tx.concert.upsert({
      where: { id: concertId },
      create: { id: concertId, name: options.concertName ?? "IU Concert" },
      update: {},
    });
    // Keep the serial ahead of the explicit id.
    await tx.$executeRaw`SELECT setval(pg_get_serial_sequence('concert', 'id'), GREATEST((SELECT max(id) FROM concert), 1))`;

    const [{ now }] = await tx.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
    const future = await tx.concertDetail.findMany({
      where: { concertId, startsAt: { gt: now } },
      orderBy: { startsAt: "asc" },
      select: { id: true, startsAt: true },
    });
    let created = 0;
    const last = future.length ? future[future.length - 1].startsAt : now;
    const missing = performances - future.length;
    for (let i = 1; i <= missing; i++) {
      // one week apart, 19:00 UTC, starting a week after the last future one
      const startsAt = new Date(last.getTime() + i * 7 * 86_400_000);
      startsAt.setUTCHours(19, 0, 0, 0);
      const detail = await tx.concertDetail.create({ data: { concertId, startsAt, seatPrice } });
      await tx.seat.createMany({
        data: Array.from({ length: seatsPerPerformance }, (_, n) => ({ concertDetailId: detail.id, seatNo: n + 1 })),
      });
      future.push({ id: detail.id, startsAt });
      created++;
    }
    return { concertId, concertDetailIds: future.map((d) => d.id), created };
  });
}
