import type { Cluster, Redis } from "ioredis";
import { redisCall, type InventorySnapshot, type PerformanceSeats } from "@concert/shared";

/**
 * Booking's latest inventory snapshot (free / held / sold seats per future date), which every
 * booking instance renews after each sweep under `inventoryKey` with a TTL; null when none is
 * there (booking down for longer than the TTL, or not started yet).
 */
export function inventoryReader(redis: Redis | Cluster, key: string): () => Promise<InventorySnapshot | null> {
  return async () => {
    const raw = await redisCall(redis.get(key));
    return raw === null ? null : (JSON.parse(raw) as InventorySnapshot);
  };
}

/** Seats sold over the snapshot's dates (those `keep` keeps: the general room's chart counts the dates of concerts without a room of their own). */
export const soldSeats = (s: InventorySnapshot | null, keep: (d: PerformanceSeats) => boolean = () => true): number | null =>
  s === null ? null : s.dates.filter(keep).reduce((n, d) => n + d.sold, 0);
