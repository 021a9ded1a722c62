import type { Cluster, Redis } from "ioredis";
import { INVENTORY_TTL_SEC, redisCall } from "@concert/shared";
import type { ConcertsRepository } from "../db/concerts.repository";

/**
 * Counts the free, held and sold seats of every future performance and writes the snapshot where
 * the gateway's operator routes read it (`inventoryKey`), with a TTL: a snapshot no instance
 * renews disappears, and the console says the figures are unavailable instead of showing old ones.
 */
export async function publishInventory(concerts: ConcertsRepository, redis: Redis | Cluster, key: string): Promise<void> {
  const snapshot = await concerts.inventory();
  await redisCall(redis.set(key, JSON.stringify(snapshot), "EX", INVENTORY_TTL_SEC));
}
