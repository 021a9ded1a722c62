import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Cluster, Redis, Result } from "ioredis";
import { seatGateKeys, type SeatGateKeys } from "@concert/shared";

/*
 * The Redis fast gate in front of a seat hold. One key per seat (layout in
 * packages/shared/src/seat-gate-keys.ts), set with NX before Postgres is asked, so that of many
 * users racing for one seat all but one are refused without touching the database. Postgres still
 * has the last word: the gate may only refuse early, never sell.
 */

const LUA_DIR = join(__dirname, "lua");
const SCRIPTS = {
  seatConfirm: { numberOfKeys: 1, lua: readFileSync(join(LUA_DIR, "seat-confirm-1.lua"), "utf8") },
  seatReleaseIfOwner: { numberOfKeys: 1, lua: readFileSync(join(LUA_DIR, "release-if-owner-1.lua"), "utf8") },
};

declare module "ioredis" {
  interface RedisCommander<Context> {
    seatConfirm(key: string, owner: string, value: string, ttlMs: number): Result<[number, number], Context>;
    seatReleaseIfOwner(key: string, value: string): Result<number, Context>;
  }
}

const defined = new WeakSet<object>();
function defineScripts(redis: Redis | Cluster): void {
  if (defined.has(redis)) return;
  for (const [name, s] of Object.entries(SCRIPTS)) redis.defineCommand(name, s);
  defined.add(redis);
}

export const reservationValue = (reservationId: number) => `r:${reservationId}`;

export class SeatGate {
  readonly keys: SeatGateKeys;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    /** how long a pending claim lives if this instance dies mid-hold */
    private readonly pendingMs = 10_000,
  ) {
    defineScripts(redis);
    this.keys = seatGateKeys(prefix);
  }

  /** SET NX: returns an owner value if we got the seat's gate, null if someone else holds it. */
  async claim(concertDetailId: number, seatNo: number): Promise<string | null> {
    const owner = `p:${randomUUID()}`;
    const res = await this.redis.set(this.keys.seat(concertDetailId, seatNo), owner, "PX", this.pendingMs, "NX");
    return res === "OK" ? owner : null;
  }

  /** Pending claim → hold of the reservation for `ttlMs`; returns the Redis clock (ms). */
  async confirm(concertDetailId: number, seatNo: number, owner: string, reservationId: number, ttlMs: number): Promise<number> {
    const [, redisNow] = await this.redis.seatConfirm(
      this.keys.seat(concertDetailId, seatNo),
      owner,
      reservationValue(reservationId),
      Math.max(1, Math.ceil(ttlMs)),
    );
    return Number(redisNow);
  }

  /** Owner-checked delete (a pending claim that failed, or an expired reservation's key). */
  async release(concertDetailId: number, seatNo: number, value: string): Promise<boolean> {
    return (await this.redis.seatReleaseIfOwner(this.keys.seat(concertDetailId, seatNo), value)) === 1;
  }
}
