import type { Cluster, Redis } from "ioredis";
import { DATES_REUSE_MS, readSeatView, redisCall, seatMapKeys, type SeatMapKeys } from "@concert/shared";

/** The dates of a concert as booking answers them (GET /api/concert/{concertId}/date). */
export interface DatesView {
  concertName: string;
  concertInfos: { concertDetailId: number; startsAt: string; seatPrice: number; availableSeats: number }[];
}

/**
 * The gateway's reader of booking's seat-availability read model (layout:
 * packages/shared/src/seat-map.ts): the free seats of a performance and the bookable dates of a
 * concert, answered from Redis with booking's exact answers, or null while the model is not built
 * (the caller then forwards to booking, which answers from Postgres and builds it). A hold whose
 * time ran out counts as free from that moment on, as booking's own queries count it.
 */
export class SeatMapReader {
  readonly keys: SeatMapKeys;
  /** concert id → its dates answer being read or read at `at` (reused for DATES_REUSE_MS; at most a few hundred concerts on sale) */
  private readonly recentDates = new Map<number, { at: number; answer: Promise<DatesView | null> }>();

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.keys = seatMapKeys(prefix);
  }

  /** Free seat numbers, ascending (none once the performance started); null: not built (or no such performance). */
  async freeSeats(concertDetailId: number): Promise<number[] | null> {
    const view = await redisCall(this.redis.hget(this.keys.performance(concertDetailId), "view"));
    return readSeatView(view, this.now())?.free ?? null;
  }

  /**
   * Future performances with a free seat, soonest first; null when the concert or one of its maps
   * is not built. One read of the model serves this instance's requests for DATES_REUSE_MS.
   */
  dates(concertId: number): Promise<DatesView | null> {
    const now = this.now();
    const recent = this.recentDates.get(concertId);
    if (recent && now - recent.at < DATES_REUSE_MS) return recent.answer;
    if (this.recentDates.size > 1000) this.recentDates.clear();
    const entry = { at: now, answer: this.readDates(concertId) };
    this.recentDates.set(concertId, entry);
    // an answer that failed or found the model not built is not reused
    const forget = () => this.recentDates.get(concertId) === entry && this.recentDates.delete(concertId);
    entry.answer.then((a) => a === null && forget(), forget);
    return entry.answer;
  }

  private async readDates(concertId: number): Promise<DatesView | null> {
    const concert = await redisCall(this.redis.hgetall(this.keys.concert(concertId)));
    if (concert.name === undefined || concert.dates === undefined) return null;
    const ids = concert.dates === "" ? [] : concert.dates.split(",").map(Number);
    const views = await redisCall(Promise.all(ids.map((id) => this.redis.hget(this.keys.performance(id), "view"))));
    const now = this.now();
    const concertInfos: DatesView["concertInfos"] = [];
    for (let i = 0; i < ids.length; i++) {
      const map = readSeatView(views[i], now);
      if (map === null) return null;
      if (map.startsAtMs <= now || map.free.length === 0) continue;
      concertInfos.push({
        concertDetailId: ids[i],
        startsAt: new Date(map.startsAtMs).toISOString(),
        seatPrice: map.price,
        availableSeats: map.free.length,
      });
    }
    return { concertName: concert.name, concertInfos };
  }
}
