import { randomUUID } from "node:crypto";
import { join } from "node:path";
import type { Cluster, Redis } from "ioredis";
import { AppError, defineScripts, luaScript, redisCall, runScript, type Logger } from "@concert/shared";

export interface ClientHoldsOptions {
  /** most live holds (made, or on their way to booking) one client address may have; 0 turns the cap off */
  maxLive: number;
  /** Redis key prefix; one sorted set per address, shared by every gateway instance */
  prefix: string;
  /** how long a hold on its way to booking counts before its answer is known (the forward timeout) */
  inFlightMs: number;
}

/** What booking answered a hold with: the reservation made, or nothing (refused, failed, not sent). */
export interface HoldOutcome {
  reservationId: number;
  expiresAt: number;
}

const LUA_DIR = join(__dirname, "lua");

const RESERVE = { LIMIT: 0, RESERVED: 1 } as const;
export const reserveScript = luaScript({
  name: "clientHoldsReserve",
  file: join(LUA_DIR, "client-holds-reserve-1.lua"),
  keys: ["holds"],
  argv: { nowMs: "number", untilMs: "number", maxLive: "number", place: "string", seats: "number" },
  codes: RESERVE,
  decode: (reply): boolean => reply === RESERVE.RESERVED,
});

const SETTLE = { SETTLED: 1 } as const;
export const settleScript = luaScript({
  name: "clientHoldsSettle",
  file: join(LUA_DIR, "client-holds-settle-1.lua"),
  keys: ["holds"],
  argv: { place: "string", seats: "number", made: "string" },
  codes: SETTLE,
  decode: (): void => undefined,
});

export const CLIENT_HOLDS_SCRIPTS = [reserveScript, settleScript];

/**
 * Live holds per client address, across gateway instances: a Redis sorted set per address whose
 * members are its holds, scored by when each stops counting (a made hold at its expiresAt, one in
 * flight at its forward timeout). A hold takes its places before it is forwarded, in one script
 * that drops what has lapsed, counts, and adds them only if they fit: past `maxLive` it takes none
 * and is 409 HOLD_LIMIT, so concurrent holds of one address cannot all pass a count taken before
 * any of them. Booking's answer then turns the places into the reservations (scored by their
 * expiry) or frees them, in one script too. Booking stays the judge of the per-user limit; this
 * bounds what many made-up users behind one address can hoard.
 */
export class ClientHolds {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: ClientHoldsOptions,
    private readonly logger: Logger,
  ) {
    defineScripts(redis, CLIENT_HOLDS_SCRIPTS);
  }

  get enabled(): boolean {
    return this.options.maxLive > 0;
  }

  private key(client: string): string {
    return `${this.options.prefix}:${client}`;
  }

  /**
   * Takes a place for each of `seats` seats of one hold of `client` (HOLD_LIMIT, taking none,
   * when they do not all fit); call the result with the reservations booking made.
   */
  async reserve(client: string, seats = 1, now = Date.now()): Promise<(made: readonly HoldOutcome[]) => Promise<void>> {
    const holds = this.key(client);
    const place = randomUUID();
    const { maxLive, inFlightMs } = this.options;
    const reserved = await runScript(
      this.redis,
      reserveScript,
      { holds },
      { nowMs: now, untilMs: now + inFlightMs, maxLive, place, seats },
    );
    if (!reserved) {
      throw new AppError("HOLD_LIMIT", `At most ${maxLive} seats may be held from one address at once`, { maxHoldsPerClient: maxLive });
    }
    return async (made) => {
      const outcomes = made.map((outcome) => `${outcome.reservationId}:${outcome.expiresAt}`).join(",");
      // Best effort: a place left behind lapses at its in-flight score; the hold itself is booking's.
      await runScript(this.redis, settleScript, { holds }, { place, seats, made: outcomes }).catch((err: unknown) =>
        this.logger.warn({ err, client }, "recording a client's hold failed"),
      );
    };
  }

  /** A released hold no longer counts against `client` (best effort: else it lapses at its expiry). */
  async forget(client: string, reservationId: number): Promise<void> {
    await redisCall(this.redis.zrem(this.key(client), `r:${reservationId}`)).catch((err: unknown) =>
      this.logger.warn({ err, client }, "forgetting a client's released hold failed"),
    );
  }
}
