import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import {
  SEAT_MAP_TTL_SEC,
  defineScripts,
  encodeSeatState,
  luaScript,
  redisCall,
  runScript,
  seatMapKeys,
  seatVersion,
  type Logger,
  type SeatMapEntry,
  type SeatMapKeys,
} from "@concert/shared";
import type { Db } from "../db/client";

/*
 * Booking's side of the seat-availability read model (layout and versions:
 * packages/shared/src/seat-map.ts). Every use case that changes a seat's state calls `changed`
 * once, after Postgres committed the change and before it answers, so the gateway's next read
 * of the seat map, on any instance, already shows it. A map that is missing (never built, expired,
 * lost) is rebuilt from Postgres when booking serves the seat map or the dates itself (the
 * gateway forwards those reads while the map is not built).
 */

const LUA_DIR = join(__dirname, "lua");

export const seatMapWriteScript = luaScript({
  name: "seatMapWrite",
  file: join(LUA_DIR, "seat-map-write-1.lua"),
  keys: ["map"],
  argv: { entries: "string", meta: "string", build: "string", ttlMs: "number" },
  codes: { WRITTEN: 1, STALE_BUILD: 0 },
  /** false: a rebuild found its map lost since it read Postgres, and wrote nothing */
  decode: (reply): boolean => reply === 1,
});

export const seatMapBeginScript = luaScript({
  name: "seatMapBegin",
  file: join(LUA_DIR, "seat-map-begin-1.lua"),
  keys: ["map"],
  argv: { build: "string", ttlMs: "number" },
  codes: { BEGUN: 1 },
  /** the map's rebuild marker */
  decode: (reply): string => String((reply as [number, string])[1]),
});

export const SEAT_MAP_SCRIPTS = [seatMapWriteScript, seatMapBeginScript];

/** A seat's new state after a committed change: held by a reservation until, sold to it, or its reservation ended. */
export interface SeatChange {
  concertDetailId: number;
  seatNo: number;
  reservationId: number;
  to: { state: "HELD"; untilMs: number } | { state: "SOLD" } | { state: "ENDED" };
}

function entryOf(change: SeatChange): SeatMapEntry {
  const { seatNo, reservationId, to } = change;
  if (to.state === "HELD") return { seatNo, version: seatVersion(reservationId, "HELD"), seat: to };
  if (to.state === "SOLD") return { seatNo, version: seatVersion(reservationId, "SOLD"), seat: to };
  return { seatNo, version: seatVersion(reservationId, "ENDED"), seat: { state: "FREE" } };
}

const encodeEntries = (entries: SeatMapEntry[]) => entries.map((e) => `${e.seatNo}:${e.version}:${encodeSeatState(e.seat)}`).join(";");

interface SeatRow {
  starts_at: Date;
  seat_price: number;
  seat_no: number;
  status: "FREE" | "HELD" | "SOLD";
  reservation_id: number | null;
  hold_until: Date | null;
}

/** A seat row as it is in Postgres → its entry in the map. */
function entryOfRow(r: SeatRow): SeatMapEntry {
  if (r.status === "SOLD") return { seatNo: r.seat_no, version: seatVersion(r.reservation_id, "SOLD"), seat: { state: "SOLD" } };
  if (r.status === "HELD" && r.hold_until !== null) {
    return { seatNo: r.seat_no, version: seatVersion(r.reservation_id, "HELD"), seat: { state: "HELD", untilMs: r.hold_until.getTime() } };
  }
  return { seatNo: r.seat_no, version: seatVersion(r.reservation_id, "ENDED"), seat: { state: "FREE" } };
}

export class SeatMap {
  readonly keys: SeatMapKeys;
  private readonly ttlMs = SEAT_MAP_TTL_SEC * 1000;
  /**
   * This instance's rebuilds in flight, by performance id and by concert id: reads that reach
   * booking while a map is not built (the first admitted users of an on-sale, all at once) share
   * one rebuild here instead of each reading Postgres for every performance of the concert. A
   * shared rebuild is as good as one's own: it marked the map before reading Postgres, and every
   * change committed after its read is written by changed() and merged by version.
   */
  private readonly performancesRebuilding = new Map<number, Promise<boolean>>();
  private readonly concertsRebuilding = new Map<number, Promise<void>>();

  constructor(
    private readonly db: Db,
    private readonly redis: Redis | Cluster,
    prefix: string,
    private readonly logger: Logger,
  ) {
    defineScripts(redis, SEAT_MAP_SCRIPTS);
    this.keys = seatMapKeys(prefix);
  }

  /**
   * Writes committed seat changes into their performances' maps. Best effort, like the seat gate:
   * the change stands in Postgres; if Redis fails, the map is dropped (if Redis still answers)
   * so the next read rebuilds it, and in any case it expires within SEAT_MAP_TTL_SEC.
   */
  async changed(changes: readonly SeatChange[]): Promise<void> {
    const byPerformance = new Map<number, SeatMapEntry[]>();
    for (const c of changes) {
      const list = byPerformance.get(c.concertDetailId) ?? [];
      list.push(entryOf(c));
      byPerformance.set(c.concertDetailId, list);
    }
    await Promise.all(
      [...byPerformance].map(async ([concertDetailId, entries]) => {
        const map = this.keys.performance(concertDetailId);
        try {
          await runScript(
            this.redis,
            seatMapWriteScript,
            { map },
            { entries: encodeEntries(entries), meta: "", build: "", ttlMs: this.ttlMs },
          );
        } catch (err) {
          this.logger.warn({ err, concertDetailId }, "seat change committed, but the seat map could not be written; dropping it");
          await this.redis.del(map).catch(() => {});
        }
      }),
    );
  }

  /**
   * Builds one performance's map from Postgres, merged by version with any change written
   * meanwhile. The map is marked before Postgres is read: if it is lost after that (expired,
   * deleted), a change committed after the read may be missing from the snapshot, so nothing is
   * written and the next read rebuilds. False when the performance does not exist.
   */
  rebuildPerformance(concertDetailId: number): Promise<boolean> {
    return shared(this.performancesRebuilding, concertDetailId, () => this.readPerformance(concertDetailId));
  }

  private async readPerformance(concertDetailId: number): Promise<boolean> {
    const map = this.keys.performance(concertDetailId);
    const build = await runScript(this.redis, seatMapBeginScript, { map }, { build: randomUUID(), ttlMs: this.ttlMs });
    const rows = await this.db.$queryRaw<SeatRow[]>`
      SELECT cd.starts_at, cd.seat_price, s.seat_no, s.status::text AS status, s.reservation_id, s.hold_until
        FROM concert_detail cd JOIN seat s ON s.concert_detail_id = cd.id
       WHERE cd.id = ${concertDetailId}`;
    if (rows.length === 0) {
      await redisCall(this.redis.del(map));
      return false;
    }
    const meta = `${rows[0].starts_at.getTime()}:${rows[0].seat_price}`;
    const entries = encodeEntries(rows.map(entryOfRow));
    await runScript(this.redis, seatMapWriteScript, { map }, { entries, meta, build, ttlMs: this.ttlMs });
    return true;
  }

  /** Builds a concert's entry (name, performances by start) and the map of each of its performances that is not built. */
  rebuildConcert(concertId: number): Promise<void> {
    return shared(this.concertsRebuilding, concertId, () => this.readConcert(concertId));
  }

  private async readConcert(concertId: number): Promise<void> {
    const [concert] = await this.db.$queryRaw<{ name: string; dates: number[] | null }[]>`
      SELECT c.name, array_agg(cd.id ORDER BY cd.starts_at, cd.id) FILTER (WHERE cd.id IS NOT NULL) AS dates
        FROM concert c LEFT JOIN concert_detail cd ON cd.concert_id = c.id
       WHERE c.id = ${concertId}
       GROUP BY c.id`;
    if (!concert) return;
    const dates = concert.dates ?? [];
    await this.rebuildUnbuilt(dates);
    await redisCall(
      this.redis
        .multi()
        .hset(this.keys.concert(concertId), { name: concert.name, dates: dates.join(",") })
        .pexpire(this.keys.concert(concertId), this.ttlMs)
        .exec(),
    );
  }

  /** Rebuilds the maps of these performances that are not built. */
  private async rebuildUnbuilt(concertDetailIds: number[]): Promise<void> {
    const built = await Promise.all(concertDetailIds.map((id) => redisCall(this.redis.hget(this.keys.performance(id), "ready"))));
    await Promise.all(concertDetailIds.filter((_, i) => built[i] !== "1").map((id) => this.rebuildPerformance(id)));
  }

  /**
   * The rebuild a read that reached booking asks for, only of what is not built (reads reach
   * booking also with SEAT_MAP_READS=false, or in a form the gateway's hot path leaves to
   * Express): best effort (the read's answer comes from Postgres anyway).
   */
  async rebuildQuietly(what: { concertDetailId: number } | { concertId: number }): Promise<void> {
    try {
      if ("concertId" in what) {
        const dates = await redisCall(this.redis.hget(this.keys.concert(what.concertId), "dates"));
        if (dates === null) await this.rebuildConcert(what.concertId);
        else await this.rebuildUnbuilt(dates === "" ? [] : dates.split(",").map(Number));
      } else if ((await redisCall(this.redis.hget(this.keys.performance(what.concertDetailId), "ready"))) !== "1") {
        await this.rebuildPerformance(what.concertDetailId);
      }
    } catch (err) {
      this.logger.warn({ err, ...what }, "seat map rebuild failed; the next read tries again");
    }
  }
}

/** The work in flight under `key`, or `work()` started and kept there until it settles. */
function shared<K, T>(inFlight: Map<K, Promise<T>>, key: K, work: () => Promise<T>): Promise<T> {
  const running = inFlight.get(key);
  if (running) return running;
  const started = work().finally(() => inFlight.delete(key));
  inFlight.set(key, started);
  return started;
}
