import type { Logger } from "@concert/shared";
import type { ReservationsRepository } from "../db/reservations.repository";
import type { RoomInventory } from "../inventory/room-inventory";
import { reservationValue, type SeatGate } from "./seat-gate";

export interface SweepDeps {
  reservations: ReservationsRepository;
  gate: SeatGate;
  logger: Logger;
  inventory?: RoomInventory;
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
  const touched = new Set<number>();
  for (;;) {
    const batch = await deps.reservations.expireHolds(BATCH);
    expired += batch.length;
    for (const h of batch) touched.add(h.concertDetailId);
    await Promise.all(
      batch.map((h) => deps.gate.release(h.concertDetailId, h.seatNo, reservationValue(h.reservationId)).catch(() => false)),
    );
    if (batch.length < BATCH) break;
  }
  for (;;) {
    const n = await deps.reservations.freeExpiredSeats(BATCH);
    freedSeats += n;
    if (n < BATCH) break;
  }
  if (touched.size) await deps.inventory?.changed({ concertDetailIds: [...touched] });
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
