import { queueKeys, redisCall, roomQueueName, type Logger } from "@concert/shared";
import type { Cluster, Redis } from "ioredis";
import { Prisma } from "../generated/prisma/client";
import type { Db } from "../db/client";
import { dbClock, seatIsFree, type DbClock } from "../db/seat-sql";

/** What changed seats: the performances touched, or the reservations (their performances are looked up). */
export interface InventoryChange {
  concertDetailIds?: readonly number[];
  reservationIds?: readonly number[];
}

export interface InventoryCounts {
  free: number;
  held: number;
  sold: number;
}

/**
 * A concert room's inventory in Redis: free, held and sold seats over the concert's future
 * performances, in the room's own hash (`{q:<QUEUE_NAME>:c<concertId>}:inv`, beside its queue, so
 * the room's scripts read it: inventory-aware admission, SOLD_OUT). The one place booking keeps it:
 * every use case that changes a seat (hold, release, expiry sweep, payment, cancel) calls
 * {@link RoomInventory.changed} once after it committed, which recounts the concerts touched from
 * Postgres (the truth) and writes the counts; the room registry's refresh recounts every room, so
 * a lost or missing hash is rebuilt within ROOM_REGISTRY_REFRESH_MS. Best effort: a failure is
 * logged, never the use case's failure. Concerts without a room of their own keep no inventory.
 */
export class RoomInventory {
  private readonly clock: DbClock;
  /**
   * the concerts with a room of their own, as this instance last read them (the registry refresh
   * sets them, a room made or changed here adds it): while there are none, a change costs nothing
   */
  private roomIds = new Set<number>();

  constructor(
    private readonly db: Db,
    private readonly redis: Redis | Cluster,
    private readonly queueName: string,
    private readonly logger: Logger,
    clock?: () => Date,
  ) {
    this.clock = dbClock(clock);
  }

  /** The concerts that have a room of their own (the registry refresh's read of Postgres). */
  setRooms(concertIds: Iterable<number>): void {
    this.roomIds = new Set(concertIds);
  }

  /** The one call of every use case that changed seats. */
  async changed(change: InventoryChange): Promise<void> {
    if (this.roomIds.size === 0) return;
    try {
      const concertIds = await this.roomConcertsOf(change);
      await Promise.all(concertIds.map((id) => this.recount(id)));
    } catch (err) {
      this.logger.warn({ err: { message: (err as Error).message }, change }, "room inventory not updated; the next change or refresh will");
    }
  }

  /** Counts the concert's seats over its future performances from Postgres and writes them to its room's hash. */
  async recount(concertId: number): Promise<InventoryCounts> {
    this.roomIds.add(concertId);
    const now = this.clock.now();
    const [row] = await this.db.$queryRaw<{ free: number; held: number; sold: number }[]>`
      SELECT count(*) FILTER (WHERE ${seatIsFree(now)})::int AS free,
             count(*) FILTER (WHERE s.status = 'HELD' AND s.hold_until > ${now})::int AS held,
             count(*) FILTER (WHERE s.status = 'SOLD')::int AS sold
        FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
       WHERE cd.concert_id = ${concertId} AND cd.starts_at > ${now}`;
    const counts = { free: row?.free ?? 0, held: row?.held ?? 0, sold: row?.sold ?? 0 };
    const key = queueKeys(roomQueueName(this.queueName, concertId)).inv;
    await redisCall(this.redis.hset(key, { free: counts.free, held: counts.held, sold: counts.sold, at: Date.now() }));
    return counts;
  }

  /** The concerts with a room of their own among those the change touched. */
  private async roomConcertsOf(change: InventoryChange): Promise<number[]> {
    const details = change.concertDetailIds ?? [];
    const reservations = change.reservationIds ?? [];
    if (!details.length && !reservations.length) return [];
    const rows = await this.db.$queryRaw<{ id: number }[]>`
      SELECT DISTINCT c.id FROM concert c JOIN concert_detail cd ON cd.concert_id = c.id
       WHERE c.has_room AND (cd.id IN (${details.length ? Prisma.join(details) : Prisma.sql`NULL`})
          OR cd.id IN (SELECT concert_detail_id FROM reservation WHERE id IN (${reservations.length ? Prisma.join(reservations) : Prisma.sql`NULL`})))`;
    return rows.map((r) => r.id);
  }
}
