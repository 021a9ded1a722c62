import { AppError, type Logger, type ReservationView } from "@concert/shared";
import { timeLeft } from "../db/deadline";
import type { ReleaseOutcome, ReservationsRepository } from "../db/reservations.repository";
import type { SeatChanges } from "../seat-changes";
import { reservationValue, type SeatGate } from "./seat-gate";

export interface ReleaseHoldDeps {
  reservations: ReservationsRepository;
  gate: SeatGate;
  logger: Logger;
  /** every read model of seat state (seat-changes.ts), told once after every committed change */
  seatChanges?: SeatChanges;
}

export interface ReleaseHoldInput {
  /** the passport's user: only the owner may release */
  userId: number;
  reservationId: number;
  /** ms since epoch when the caller stops waiting (the passport's): nothing commits after it */
  deadline?: number;
}

/**
 * Ends a live hold at its owner's request: Postgres first (the reservation EXPIRED, the seat
 * FREE, so the seat list shows it free at once), then the seat's Redis gate key, best effort
 * (a key left behind only refuses early until the hold's expiry). A payment of the same hold
 * takes the same row locks: whichever commits first wins and the other is refused.
 */
export async function releaseHold(deps: ReleaseHoldDeps, input: ReleaseHoldInput): Promise<ReservationView> {
  if (input.deadline !== undefined) timeLeft(input.deadline);
  const outcome = await deps.reservations.release(input);
  if (!("released" in outcome)) throw releaseRefusal(outcome, input.reservationId);
  const r = outcome.released;
  await deps.gate.release(r.concertDetailId, r.seatNo, reservationValue(r.reservationId)).catch((err: unknown) => {
    deps.logger.warn({ err, reservationId: r.reservationId }, "hold released, but its seat gate key stays until it expires");
  });
  await deps.seatChanges?.changed([
    { concertDetailId: r.concertDetailId, seatNo: r.seatNo, reservationId: r.reservationId, to: { state: "ENDED" } },
  ]);
  return {
    reservationId: r.reservationId,
    concertDetailId: r.concertDetailId,
    seatId: r.seatNo,
    price: r.price,
    status: "EXPIRED",
    expiresAt: r.expiresAt.toISOString(),
  };
}

function releaseRefusal(outcome: Exclude<ReleaseOutcome, { released: unknown }>, reservationId: number): AppError {
  switch (outcome.refused) {
    case "NOT_FOUND":
      return new AppError("NOT_FOUND", `Reservation ${reservationId} not found`, { reservationId });
    case "NOT_OWNER":
      return new AppError("NOT_OWNER", `Reservation ${reservationId} is another user's`, { reservationId });
    case "ALREADY_PAID":
      return new AppError("ALREADY_PAID", `Reservation ${reservationId} is paid; it cannot be released`, {
        reservationId,
        status: outcome.status,
      });
    case "NOT_HELD":
      return new AppError("NOT_HELD", `Reservation ${reservationId} is no longer held (${outcome.status})`, {
        reservationId,
        status: outcome.status,
      });
  }
}
