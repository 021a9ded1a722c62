import { AppError } from "@concert/shared";
import type { ConcertsRepository } from "../db/concerts.repository";

export interface PerformancesView {
  concertName: string;
  concertInfos: { concertDetailId: number; startsAt: string; seatPrice: number; availableSeats: number }[];
}

/** Future performances of a concert that still have a free seat. */
export async function listBookablePerformances(concerts: ConcertsRepository, concertId: number): Promise<PerformancesView> {
  const concertName = await concerts.findConcertName(concertId);
  if (concertName === null) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  const performances = await concerts.listBookablePerformances(concertId);
  return {
    concertName,
    concertInfos: performances.map((s) => ({ ...s, startsAt: s.startsAt.toISOString() })),
  };
}

/** The free seat numbers of a performance, ascending (none once it has started). */
export async function listFreeSeats(concerts: ConcertsRepository, concertDetailId: number): Promise<number[]> {
  const seats = await concerts.listFreeSeatNumbers(concertDetailId);
  if (seats === null) throw new AppError("NOT_FOUND", `Performance ${concertDetailId} not found`, { concertDetailId });
  return seats;
}
