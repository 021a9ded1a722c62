import type { Logger } from "@concert/shared";
import type { ReservationsRepository } from "../db/reservations.repository";
import type { SeatChanges } from "../seat-changes";
import { reservationValue, type SeatGate } from "./seat-gate";

export interface SweepDeps {
  reservations: ReservationsRepository;
  gate: SeatGate;
  logger: Logger;
  /** every read model of seat state (seat-changes.ts), told once after every committed change */
  seatChanges?: SeatChanges;
}

export interface SweepResult {
  expired: number;
  freedSeats: number;
}

const BATCH = 500;

/**
 * Marks expired holds EXPIRED, frees their seats and clears their Redis keys (owner-checked:
 * a key that already names a newer hold is left alone). Queries treat an expired hold as free
 * at once; this only tidies up. Safe on any number of instances at once (SKIP LOCKED).
 */
export async function sweepExpiredHolds(deps: SweepDeps): Promise<SweepResult> {
  let expired = 0;
  let freedSeats = 0;
  for (;;) {
    const batch = await deps.reservations.expireHolds(BATCH);
    expired += batch.length;
    await Promise.all(
      batch.map((h) => deps.gate.release(h.concertDetailId, h.seatNo, reservationValue(h.reservationId)).catch(() => false)),
    );
    await deps.seatChanges?.changed(batch.map((h) => ({ ...h, to: { state: "ENDED" } })));
    if (batch.length < BATCH) break;
  }
  for (;;) {
    const n = await deps.reservations.freeExpiredSeats(BATCH);
    freedSeats += n;
    if (n < BATCH) break;
  }
  return { expired, freedSeats };
}

/** Runs the sweep every `intervalMs`; returns a stop function that waits for a running sweep. */
export function startSweeper(sweep: () => Promise<SweepResult>, logger: Logger, intervalMs: number): () => Promise<void> {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .then((r) => {
        if (r.expired || r.freedSeats) logger.info(r, "expired holds swept");
      })
      .catch((err) => logger.warn({ err: { message: (err as Error).message } }, "sweep failed; will retry"))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
