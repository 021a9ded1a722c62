import { ROOM_INVENTORY_RECOUNT_MS, queueKeys, redisCall, roomQueueName, type Logger } from "@concert/shared";
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

/** One concert's recounts on this instance: when the last began, the one running, the one due. */
interface Pace {
  startedAt: number;
  running: Promise<void> | null;
  due: NodeJS.Timeout | null;
}

export interface RoomInventoryOptions {
  /** the database's clock (seat-sql.ts DbClock) */
  clock?: () => Date;
  /** ms since epoch, for the recounts' pace */
  now?: () => number;
  /** at most one recount per concert this often (ROOM_INVENTORY_RECOUNT_MS) */
  recountEveryMs?: number;
}

/**
 * A concert room's inventory in Redis: free, held and sold seats over the concert's future
 * performances, in the room's own hash (`{q:<QUEUE_NAME>:c<concertId>}:inv`, beside its queue, so
 * the room's scripts read it: inventory-aware admission, SOLD_OUT). The one place booking keeps it:
 * every use case that changes a seat (hold, release, expiry sweep, payment, cancel) calls
 * {@link RoomInventory.changed} once after it committed, which recounts the concerts touched from
 * Postgres (the truth) and writes the counts; the room registry's refresh recounts every room, so
 * a lost or missing hash is rebuilt within ROOM_REGISTRY_REFRESH_MS. A recount reads every seat of
 * the concert's future performances, so it is paced: at most one per concert per
 * ROOM_INVENTORY_RECOUNT_MS on this instance. A change after a quiet spell is recounted before its
 * use case answers; the changes of a rush share the recount that follows the last one, so the
 * counts trail the rush by at most that. Best effort: a failure is logged, never the use case's
 * failure. Concerts without a room of their own keep no inventory.
 */
export class RoomInventory {
  private readonly clock: DbClock;
  private readonly now: () => number;
  private readonly recountEveryMs: number;
  /**
   * the concerts with a room of their own, as this instance last read them (the registry refresh
   * sets them, a room made or changed here adds it): while there are none, a change costs nothing
   */
  private roomIds = new Set<number>();
  /** each performance's concert, once read (a performance never moves to another concert) */
  private readonly concertOfDetail = new Map<number, number>();
  /** the reads of performances' concerts in flight: the changes of a rush onto a new performance share one */
  private readonly readingDetail = new Map<number, Promise<void>>();
  private readonly paces = new Map<number, Pace>();

  constructor(
    private readonly db: Db,
    private readonly redis: Redis | Cluster,
    private readonly queueName: string,
    private readonly logger: Logger,
    options: RoomInventoryOptions = {},
  ) {
    this.clock = dbClock(options.clock);
    this.now = options.now ?? Date.now;
    this.recountEveryMs = options.recountEveryMs ?? ROOM_INVENTORY_RECOUNT_MS;
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
      await Promise.all(concertIds.map((id) => this.recountSoon(id)));
    } catch (err) {
      this.warn(err, change);
    }
  }

  /** Stops the recounts that are due (a shutdown). */
  close(): void {
    for (const pace of this.paces.values()) if (pace.due) clearTimeout(pace.due);
    this.paces.clear();
  }

  /**
   * Recounts the concert now (awaited) when none ran for recountEveryMs and none runs; else makes
   * sure one is due when that is over (and after the one running), which counts this change too.
   */
  private async recountSoon(concertId: number): Promise<void> {
    let pace = this.paces.get(concertId);
    if (!pace) this.paces.set(concertId, (pace = { startedAt: -Infinity, running: null, due: null }));
    if (pace.due) return; // the recount due will count this change
    const wait = pace.startedAt + this.recountEveryMs - this.now();
    if (!pace.running && wait <= 0) return this.start(concertId, pace);
    const due = pace;
    due.due = setTimeout(
      () =>
        void (async () => {
          await due.running;
          due.due = null;
          await this.start(concertId, due).catch((err: unknown) => this.warn(err, { concertId }));
        })(),
      Math.max(0, wait),
    );
    due.due.unref();
  }

  private start(concertId: number, pace: Pace): Promise<void> {
    pace.startedAt = this.now();
    const counted = this.recount(concertId).then(() => undefined);
    pace.running = counted.then(
      () => {
        pace.running = null;
      },
      () => {
        pace.running = null;
      },
    );
    return counted;
  }

  private warn(err: unknown, change: unknown): void {
    this.logger.warn({ err: { message: (err as Error).message }, change }, "room inventory not updated; the next change or refresh will");
  }

  /** Counts the concert's seats over its future performances from Postgres and writes them to its room's hash. */
  async recount(concertId: number): Promise<InventoryCounts> {
    this.roomIds.add(concertId);
    const now = this.clock.now();
    const [row] = await this.db.sql.query<{ free: number; held: number; sold: number }>(Prisma.sql`
      SELECT count(*) FILTER (WHERE ${seatIsFree(now)})::int AS free,
             count(*) FILTER (WHERE s.status = 'HELD' AND s.hold_until > ${now})::int AS held,
             count(*) FILTER (WHERE s.status = 'SOLD')::int AS sold
        FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
       WHERE cd.concert_id = ${concertId} AND cd.starts_at > ${now}`);
    const counts = { free: row?.free ?? 0, held: row?.held ?? 0, sold: row?.sold ?? 0 };
    const key = queueKeys(roomQueueName(this.queueName, concertId)).inv;
    await redisCall(this.redis.hset(key, { free: counts.free, held: counts.held, sold: counts.sold, at: Date.now() }));
    return counts;
  }

  /**
   * The concerts with a room of their own (as this instance knows them, see roomIds) among those
   * the change touched. A performance's concert is read once; a reservation's performance is read
   * each time (cancels and refunds name reservations, and are few).
   */
  private async roomConcertsOf(change: InventoryChange): Promise<number[]> {
    const reservations = change.reservationIds ?? [];
    const details = [...(change.concertDetailIds ?? [])];
    if (reservations.length) {
      const rows = await this.db.sql.query<{ id: number }>(
        Prisma.sql`SELECT DISTINCT concert_detail_id AS id FROM reservation WHERE id = ANY(${[...reservations]}::int[])`,
      );
      details.push(...rows.map((r) => r.id));
    }
    const unknown = [...new Set(details.filter((id) => !this.concertOfDetail.has(id) && !this.readingDetail.has(id)))];
    if (unknown.length) {
      const read = this.readConcertsOf(unknown).finally(() => {
        for (const id of unknown) this.readingDetail.delete(id);
      });
      read.catch(() => {}); // each waiter below gets its failure
      for (const id of unknown) this.readingDetail.set(id, read);
    }
    const reads = new Set(details.flatMap((id) => this.readingDetail.get(id) ?? []));
    if (reads.size) await Promise.all(reads); // none: every concert known, no wait
    const concerts = new Set(details.flatMap((id) => this.concertOfDetail.get(id) ?? []));
    return [...concerts].filter((id) => this.roomIds.has(id));
  }

  private async readConcertsOf(detailIds: number[]): Promise<void> {
    const rows = await this.db.sql.query<{ id: number; concert_id: number }>(
      Prisma.sql`SELECT id, concert_id FROM concert_detail WHERE id = ANY(${detailIds}::int[])`,
    );
    for (const r of rows) this.concertOfDetail.set(r.id, r.concert_id);
  }
}
