/**
 * Key layout of booking's Redis seat gate, shared so that the gateway can refuse a hold of a seat
 * that is already claimed before the request crosses to booking (the losers of a rush for one
 * seat then cost the gateway one EXISTS instead of a full booking request). Booking owns the keys;
 * the gateway only reads them. Postgres still has the last word on every hold.
 *
 *   booking:<queueName>:seat:{<concertDetailId>}:<seatNo>   "p:<uuid>" while pending, "r:<reservationId>" while held
 *     (hash-tagged by date: a several-seat hold claims all its seats in one script, which a Redis
 *     Cluster runs only on keys of one slot; the dates spread over the masters)
 *   booking:<queueName>:lock:holds:<userId>               Redlock resource guarding the user's hold count
 */
export interface SeatGateKeys {
  seat(concertDetailId: number, seatNo: number): string;
  userHoldsLock(userId: number): string;
}

/** The prefix booking uses for a queue (QUEUE_NAME); both apps must agree on it. */
export const seatGatePrefix = (queueName: string) => `booking:${queueName}`;

export function seatGateKeys(prefix: string): SeatGateKeys {
  return {
    seat: (concertDetailId, seatNo) => `${prefix}:seat:{${concertDetailId}}:${seatNo}`,
    userHoldsLock: (userId) => `${prefix}:lock:holds:${userId}`,
  };
}

/** Seats of one future performance, as booking counts them (free includes holds that have expired). */
export interface PerformanceSeats {
  concertId: number;
  concertDetailId: number;
  startsAt: string;
  free: number;
  held: number;
  sold: number;
}

/** Booking's inventory snapshot, for operators: written by every booking instance after each sweep. */
export interface InventorySnapshot {
  /** when it was counted (ISO 8601, the database's clock) */
  at: string;
  dates: PerformanceSeats[];
}

/**
 * `booking:<queueName>:inventory`: the latest {@link InventorySnapshot} (JSON), with a TTL of
 * INVENTORY_TTL_SEC, so a snapshot no booking instance renews disappears instead of going stale.
 * Booking writes it; the gateway's operator routes read it.
 */
export const inventoryKey = (prefix: string) => `${prefix}:inventory`;
export const INVENTORY_TTL_SEC = 60;
/** the soonest future performances the snapshot counts (bounds its size and query) */
export const INVENTORY_MAX_DATES = 200;
