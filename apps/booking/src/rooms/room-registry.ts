import { redisCall, roomRegistryKey, type Logger, type RegisteredConcert } from "@concert/shared";
import type { Cluster, Redis } from "ioredis";
import type { ConcertRoomRow, RoomsRepository } from "../db/rooms.repository";
import type { RoomInventory } from "../inventory/room-inventory";

/**
 * The gateways' copy of the concerts and their rooms' settings: one Redis hash (concertId → JSON
 * {name, room}) that booking, which owns Postgres, writes on every change and rewrites from
 * Postgres every ROOM_REGISTRY_REFRESH_MS (so a Redis data loss heals by itself). Postgres stays
 * the truth; the gateways never reach it.
 */
export class RoomRegistry {
  readonly key: string;

  constructor(
    private readonly redis: Redis | Cluster,
    queueName: string,
  ) {
    this.key = roomRegistryKey(queueName);
  }

  async publish(rows: ConcertRoomRow[]): Promise<void> {
    if (rows.length === 0) return;
    const fields: Record<string, string> = {};
    for (const r of rows) fields[String(r.concertId)] = JSON.stringify({ name: r.name, room: r.room } satisfies RegisteredConcert);
    await redisCall(this.redis.hset(this.key, fields));
  }
}

/** Rewrites the registry from Postgres every `intervalMs`, starting now; returns the stop function. */
export function startRegistryRefresh(
  rooms: RoomsRepository,
  registry: RoomRegistry,
  logger: Logger,
  intervalMs: number,
  /** recounts every room's inventory too (rebuilds a missing one) */
  inventory?: RoomInventory,
): () => Promise<void> {
  let running: Promise<unknown> | null = null;
  const run = () => {
    if (running) return;
    running = rooms
      .all()
      .then(async (rows) => {
        await registry.publish(rows);
        if (!inventory) return;
        inventory.setRooms(rows.flatMap((r) => (r.room ? [r.concertId] : [])));
        for (const r of rows) if (r.room) await inventory.recount(r.concertId);
      })
      .catch((err) => logger.warn({ err: { message: (err as Error).message } }, "room registry refresh failed; will retry"))
      .finally(() => {
        running = null;
      });
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
