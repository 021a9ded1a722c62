import { randomUUID } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { AppError, redisCall, type Logger } from "@concert/shared";

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

/**
 * Live holds per client address, across gateway instances: a Redis sorted set per address whose
 * members are its holds, scored by when each stops counting (a made hold at its expiresAt, one in
 * flight at its forward timeout). A hold takes its place before it is forwarded, in one MULTI that
 * drops what has lapsed, adds it and counts: past `maxLive` it gives the place back and is 409
 * HOLD_LIMIT, so concurrent holds of one address cannot all pass a count taken before any of
 * them. Booking's answer then turns the place into the reservation (scored by its expiry) or
 * frees it. Booking stays the judge of the per-user limit; this bounds what many made-up users
 * behind one address can hoard.
 */
export class ClientHolds {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly options: ClientHoldsOptions,
    private readonly logger: Logger,
  ) {}

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
    const key = this.key(client);
    const places = Array.from({ length: seats }, () => `f:${randomUUID()}`);
    const until = now + this.options.inFlightMs;
    const replies = await redisCall(
      this.redis
        .multi()
        .zremrangebyscore(key, "-inf", now)
        .zadd(key, ...places.flatMap((place) => [until, place]))
        .zcard(key)
        .pexpireat(key, until, "NX")
        .pexpireat(key, until, "GT")
        .exec(),
    );
    const live = Number(replies?.[2]?.[1] ?? 0);
    if (live > this.options.maxLive) {
      await redisCall(this.redis.zrem(key, ...places));
      throw new AppError("HOLD_LIMIT", `At most ${this.options.maxLive} seats may be held from one address at once`, {
        maxHoldsPerClient: this.options.maxLive,
      });
    }
    return async (made) => {
      const settle = this.redis.multi().zrem(key, ...places);
      for (const outcome of made) {
        settle
          .zadd(key, outcome.expiresAt, `r:${outcome.reservationId}`)
          .pexpireat(key, outcome.expiresAt, "NX")
          .pexpireat(key, outcome.expiresAt, "GT");
      }
      // Best effort: a place left behind lapses at its in-flight score; the hold itself is booking's.
      await redisCall(settle.exec()).catch((err: unknown) => this.logger.warn({ err, client }, "recording a client's hold failed"));
    };
  }

  /** A released hold no longer counts against `client` (best effort: else it lapses at its expiry). */
  async forget(client: string, reservationId: number): Promise<void> {
    await redisCall(this.redis.zrem(this.key(client), `r:${reservationId}`)).catch((err: unknown) =>
      this.logger.warn({ err, client }, "forgetting a client's released hold failed"),
    );
  }
}
