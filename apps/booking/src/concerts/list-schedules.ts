import { AppError } from "@concert/shared";
import type { ConcertsRepository } from "../db/concerts.repository";

export interface SchedulesView {
  concertName: string;
  concertInfos: { concertDetailId: number; startsAt: string; seatPrice: number; availableSeats: number }[];
}

/** Future performances of a concert that still have a free seat. */
export async function listBookableSchedules(concerts: ConcertsRepository, concertId: number): Promise<SchedulesView> {
  const concertName = await concerts.findConcertName(concertId);
  if (concertName === null) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  const schedules = await concerts.listBookableSchedules(concertId);
  return {
    concertName,
    concertInfos: schedules.map((s) => ({ ...s, startsAt: s.startsAt.toISOString() })),
  };
}

/** The free seat numbers of a performance, ascending (none once it has started). */
export async function listFreeSeats(concerts: ConcertsRepository, concertDetailId: number): Promise<number[]> {
  const seats = await concerts.listFreeSeatNumbers(concertDetailId);
  if (seats === null) throw new AppError("NOT_FOUND", `Concert schedule ${concertDetailId} not found`, { concertDetailId });
  return seats;
}
