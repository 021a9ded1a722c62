import type { RoomInventory } from "./inventory/room-inventory";
import type { SeatChange, SeatMap } from "./seat-map/seat-map";

/**
 * The one call of every use case that changed seats (hold, release, expiry sweep, payment,
 * cancel), made once after it committed: every read model of seat state follows from it. The
 * seat map (seat-map/: each seat's state, for the gateway's seat map and dates) takes the changes
 * themselves; the concert rooms' inventory (inventory/: free, held and sold per room, for
 * admission and sold-out) recounts the performances they touched from Postgres. Both are best
 * effort and never fail the use case; Postgres stays the truth.
 */
export class SeatChanges {
  constructor(
    private readonly seatMap?: SeatMap,
    private readonly inventory?: RoomInventory,
  ) {}

  async changed(changes: readonly SeatChange[]): Promise<void> {
    if (changes.length === 0) return;
    await Promise.all([
      this.seatMap?.changed(changes),
      this.inventory?.changed({ concertDetailIds: [...new Set(changes.map((c) => c.concertDetailId))] }),
    ]);
  }
}
