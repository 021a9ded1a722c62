import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import { defineScripts, luaScript, runScript, seatGateKeys, type SeatGateKeys } from "@concert/shared";

/*
 * The Redis fast gate in front of a seat hold. One key per seat (layout in
 * packages/shared/src/seat-gate-keys.ts), set with NX before Postgres is asked, so that of many
 * users racing for one seat all but one are refused without touching the database. Postgres still
 * has the last word: the gate may only refuse early, never sell.
 */

const LUA_DIR = join(__dirname, "lua");

const CONFIRM = { TAKEN: 0, CONFIRMED: 1 } as const;
export const seatConfirmScript = luaScript({
  name: "seatConfirm",
  file: join(LUA_DIR, "seat-confirm-1.lua"),
  keys: ["seat"],
  argv: { owner: "string", value: "string", ttlMs: "number" },
  codes: CONFIRM,
  // the gate only refuses early, so a seat taken meanwhile changes nothing here: Postgres decided
  decode: (reply): boolean => reply === CONFIRM.CONFIRMED,
});

const CLAIM = { TAKEN: 0, CLAIMED: 1 } as const;
export const seatsClaimScript = luaScript({
  name: "seatsClaim",
  file: join(LUA_DIR, "seats-claim-n.lua"),
  keys: ["seat"],
  keyList: true,
  argv: { owner: "string", pendingMs: "number" },
  codes: CLAIM,
  /** the 0-based positions of the seats that were already claimed (none: every key is ours) */
  decode: (reply): number[] => (reply as number[]).slice(1).map((position) => position - 1),
});

const RELEASE = { NOT_OURS: 0, RELEASED: 1 } as const;
export const seatReleaseScript = luaScript({
  name: "seatReleaseIfOwner",
  file: join(LUA_DIR, "release-if-owner-1.lua"),
  keys: ["seat"],
  argv: { value: "string" },
  codes: RELEASE,
  decode: (reply): boolean => reply === RELEASE.RELEASED,
});

/** Every seat-gate script (the protocol test reads each one's Lua against its codes). */
export const SEAT_GATE_SCRIPTS = [seatsClaimScript, seatConfirmScript, seatReleaseScript];

export const reservationValue = (reservationId: number) => `r:${reservationId}`;

export class SeatGate {
  readonly keys: SeatGateKeys;

  constructor(
    private readonly redis: Redis | Cluster,
    prefix: string,
    /** how long a pending claim lives if this instance dies mid-hold */
    private readonly pendingMs = 10_000,
  ) {
    defineScripts(redis, SEAT_GATE_SCRIPTS);
    this.keys = seatGateKeys(prefix);
  }

  /**
   * Sets every seat's key to one pending owner value in one script, or none of them when any is
   * already claimed: of two overlapping sets the first gets all its keys and the second none,
   * and a refused set never blocks a seat it did not get. Returns the owner value, or the seats
   * whose key was taken.
   */
  async claim(concertDetailId: number, seatNos: readonly number[]): Promise<{ owner: string } | { taken: number[] }> {
    const owner = `p:${randomUUID()}`;
    const seat = seatNos.map((seatNo) => this.keys.seat(concertDetailId, seatNo));
    const taken = await runScript(this.redis, seatsClaimScript, { seat }, { owner, pendingMs: this.pendingMs });
    return taken.length === 0 ? { owner } : { taken: taken.map((i) => seatNos[i]) };
  }

  /** Pending claim → hold of the reservation for `ttlMs` (Redis clock); false when the key was someone else's. */
  confirm(concertDetailId: number, seatNo: number, owner: string, reservationId: number, ttlMs: number): Promise<boolean> {
    const seat = this.keys.seat(concertDetailId, seatNo);
    const value = reservationValue(reservationId);
    return runScript(this.redis, seatConfirmScript, { seat }, { owner, value, ttlMs: Math.max(1, Math.ceil(ttlMs)) });
  }

  /** Owner-checked delete of each seat's key (a pending claim that failed: one owner value on all). */
  async releaseAll(concertDetailId: number, seatNos: readonly number[], value: string): Promise<void> {
    await Promise.all(seatNos.map((seatNo) => this.release(concertDetailId, seatNo, value)));
  }

  /** Owner-checked delete (a pending claim that failed, or an expired or released reservation's key). */
  async release(concertDetailId: number, seatNo: number, value: string): Promise<boolean> {
    return runScript(this.redis, seatReleaseScript, { seat: this.keys.seat(concertDetailId, seatNo) }, { value });
  }
}
