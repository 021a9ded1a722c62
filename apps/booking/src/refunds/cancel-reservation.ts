import type { CancelView, Logger } from "@concert/shared";
import { UniqueViolation } from "../db/postgres-errors";
import type { Cancelled, RefundsRepository } from "../db/refunds.repository";
import { reservationValue, type SeatGate } from "../reservations/seat-gate";
import type { SeatChanges } from "../seat-changes";
import { keyConflict, type CancelInput } from "./decide-cancel";

export interface CancelDeps {
  refunds: RefundsRepository;
  gate: SeatGate;
  logger: Logger;
  /** every read model of seat state (seat-changes.ts), told once after every committed change */
  seatChanges?: SeatChanges;
}

/**
 * Cancels a paid reservation and refunds its price, once (the rules: decideCancel; exactly once:
 * RefundsRepository). The cancel is committed before Redis is touched: then the seat's gate key
 * (still naming the paid reservation until the hold's time runs out) is deleted, owner-checked,
 * so a new hold of the freed seat is not refused early. If that fails, the key runs out on its own.
 */
export async function cancelReservation(deps: CancelDeps, input: CancelInput & { deadline?: number }): Promise<CancelView> {
  const { concertDetailId, seatNo, ...view } = await cancelOrReplay(deps, input);
  await deps.gate.release(concertDetailId, seatNo, reservationValue(view.reservationId)).catch((err: unknown) => {
    deps.logger.warn({ err, reservationId: view.reservationId }, "cancel committed, but clearing the seat gate failed");
  });
  await deps.seatChanges?.changed([{ concertDetailId, seatNo, reservationId: view.reservationId, to: { state: "ENDED" } }]);
  return view;
}

async function cancelOrReplay(deps: CancelDeps, input: CancelInput & { deadline?: number }): Promise<Cancelled> {
  try {
    return await deps.refunds.cancel(input, input.deadline);
  } catch (err) {
    // Two cancels of different reservations under one key at once: the loser trips the unique index.
    if (input.idempotencyKey && err instanceof UniqueViolation) {
      const earlier = await deps.refunds.findByKey(input.userId, input.idempotencyKey);
      const conflict = earlier && keyConflict(input, earlier.reservationId);
      if (conflict) throw conflict;
    }
    throw err;
  }
}
