import type { Cluster, Redis } from "ioredis";
import { AppError } from "../errors";
import { newQueueToken, queueKeys, type QueueKeys } from "./keys";
import { defineQueueScripts } from "./scripts";

export { newQueueToken, queueKeys, tokenUserId, type QueueKeys } from "./keys";

export type FinishReason = "paid" | "expired" | "evicted" | "cancelled";

export interface QueueStoreOptions {
  /** queue name; keys are tagged `{q:<name>}` */
  name?: string;
  /** an admitted token lives this long after admission or its last use */
  activeTtlSec: number;
  /** a waiting token not polled for this long is dropped at the next tick */
  idleTtlSec: number;
  /** a token finished by its payment still passes POST /api/payment this long */
  paymentReplaySec: number;
  /** a finished token stays answerable (FINISHED) at least this long */
  finishedRetentionSec?: number;
  /** most tokens expired or evicted per tick (bounds the work of one tick) */
  maxSweepPerTick?: number;
  /**
   * Tests only: a clock (ms) passed to the scripts instead of the Redis server's TIME, so that
   * expiry can be tested without sleeping. Production leaves it unset: one clock, Redis's.
   */
  clock?: () => number;
}

export interface AdmissionSettings {
  tickMs: number;
  batch: number;
  maxActive: number;
}

export type PollResult =
  | { status: "WAITING"; rank: number; ratePerSec: number | null }
  | { status: "IN_PROGRESS"; expiresAt: number }
  | { status: "FINISHED"; reason: string };

export type AuthResult = { userId: number; expiresAt: number; replay: false } | { userId: number; replay: true };

export interface TickResult {
  ran: boolean;
  admitted: number;
  expired: number;
  evicted: number;
  /** the admission settings in force (configuration, or live overrides from operators) */
  settings: AdmissionSettings & { paused: boolean };
}

export interface QueueStats {
  waiting: number;
  active: number;
  admittedLastMinute: number;
  /** how long the head of the queue has waited, seconds (null when nobody waits) */
  oldestWaitSec: number | null;
  totals: Record<string, number>;
}

export const DEFAULT_FINISHED_RETENTION_SEC = 600;

const STATE = { W: "WAITING", A: "IN_PROGRESS" } as const;

/** Expected refusals the scripts return as small negative codes, and what they mean. */
const REFUSALS: Record<number, () => AppError> = {
  [-1]: () => new AppError("TOKEN_INVALID", "Unknown queue token"),
  [-2]: () => new AppError("TOKEN_USER_MISMATCH", "This token belongs to another user"),
  [-3]: () => new AppError("TOKEN_NOT_ACTIVE", "This token is still waiting in the queue"),
  [-4]: () => new AppError("TOKEN_INVALID", "This token has expired or was already used; queue again"),
};

/**
 * The one owner of queue-token state in Redis. The gateway issues, polls, authorises and ticks;
 * booking extends a token to cover a seat hold and finishes it after payment. No app spells a
 * queue key itself.
 */
export class QueueStore {
  readonly keys: QueueKeys;
  private readonly activeTtlMs: number;
  private readonly idleTtlMs: number;
  private readonly replayMs: number;
  private readonly retentionMs: number;
  private readonly maxSweep: number;
  private readonly clock?: () => number;

  constructor(
    private readonly redis: Redis | Cluster,
    options: QueueStoreOptions,
  ) {
    defineQueueScripts(redis);
    this.keys = queueKeys(options.name ?? "main");
    this.activeTtlMs = options.activeTtlSec * 1000;
    this.idleTtlMs = options.idleTtlSec * 1000;
    this.replayMs = options.paymentReplaySec * 1000;
    this.retentionMs = Math.max(options.finishedRetentionSec ?? DEFAULT_FINISHED_RETENTION_SEC, options.paymentReplaySec) * 1000;
    this.maxSweep = options.maxSweepPerTick ?? 5000;
    this.clock = options.clock;
  }

  /** The user's live token and place, or a new token at the back of the queue. */
  async issue(userId: number): Promise<{ token: string; status: "WAITING" | "IN_PROGRESS"; rank: number | null }> {
    const k = this.keys;
    const [token, st, rank] = await this.redis.qIssueToken(
      k.seq,
      k.waiting,
      k.seen,
      k.active,
      k.users,
      k.prefix,
      userId,
      newQueueToken(userId),
      this.retentionMs,
      this.now(),
    );
    return { token, status: STATE[st as "W" | "A"], rank: st === "W" ? Number(rank) : null };
  }

  /** State of a token that the client says is the user's; refuses unknown or foreign tokens. */
  async poll(userId: number, token: string): Promise<PollResult> {
    const k = this.keys;
    const r = await this.redis.qPoll(k.waiting, k.seen, k.active, k.rate, k.users, k.prefix, token, userId, this.retentionMs, this.now());
    const code = Number(r[0]);
    if (code < 0) throw REFUSALS[code]();
    if (code === 1) return { status: "WAITING", rank: Number(r[1]), ratePerSec: r[2] === "" ? null : Number(r[2]) };
    if (code === 2) return { status: "IN_PROGRESS", expiresAt: Number(r[1]) };
    return { status: "FINISHED", reason: String(r[2]) };
  }

  /** Checks a token for a protected route and counts this request as its use. */
  async authorize(token: string): Promise<AuthResult> {
    const k = this.keys;
    const r = await this.redis.qAuthorize(
      k.waiting,
      k.seen,
      k.active,
      k.users,
      k.prefix,
      token,
      this.activeTtlMs,
      this.retentionMs,
      this.replayMs,
      this.now(),
    );
    const code = Number(r[0]);
    if (code < 0) throw REFUSALS[code]();
    if (code === 2) return { userId: Number(r[1]), replay: true };
    return { userId: Number(r[1]), expiresAt: Number(r[2]), replay: false };
  }

  /** Runs one admission tick (a no-op if another instance already ran this slot). */
  async tick(settings: AdmissionSettings): Promise<TickResult> {
    const k = this.keys;
    const r = await this.redis.qTick(
      k.tick,
      k.waiting,
      k.seen,
      k.active,
      k.admits,
      k.rate,
      k.cfg,
      k.stats,
      k.users,
      k.prefix,
      settings.tickMs,
      settings.batch,
      settings.maxActive,
      this.activeTtlMs,
      this.idleTtlMs,
      this.retentionMs,
      this.maxSweep,
      this.now(),
    );
    return {
      ran: r[0] === 1,
      admitted: Number(r[1]),
      expired: Number(r[2]),
      evicted: Number(r[3]),
      settings: { tickMs: Number(r[4]), batch: Number(r[5]), maxActive: Number(r[6]), paused: r[7] === 1 },
    };
  }

  /** Keeps an active token alive at least until `untilMs` (Redis clock, ms). False if not active. */
  async extendActive(token: string, untilMs: number): Promise<boolean> {
    return (await this.redis.qExtend(this.keys.active, this.keys.prefix, token, Math.ceil(untilMs))) === 1;
  }

  /** Ends a token, admitted or still waiting (after payment: reason "paid"). False if it was unknown or already finished. */
  async finish(token: string, reason: FinishReason): Promise<boolean> {
    const k = this.keys;
    return (await this.redis.qFinish(k.waiting, k.seen, k.active, k.users, k.prefix, token, reason, this.retentionMs, this.now())) === 1;
  }

  private now(): number | "" {
    return this.clock ? Math.floor(this.clock()) : "";
  }

  /** Counts for operators and metrics. */
  async counts(): Promise<{ waiting: number; active: number }> {
    const [waiting, active] = await Promise.all([this.redis.zcard(this.keys.waiting), this.redis.zcard(this.keys.active)]);
    return { waiting, active };
  }

  async totals(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.stats);
    return Object.fromEntries(Object.entries(raw).map(([key, v]) => [key, Number(v)]));
  }

  /** Queue statistics for operators (times on the Redis clock). */
  async stats(): Promise<QueueStats> {
    const k = this.keys;
    const [counts, totals, head, admits, time] = await Promise.all([
      this.counts(),
      this.totals(),
      this.redis.zrange(k.waiting, 0, 0, "WITHSCORES"),
      this.redis.zrange(k.admits, 0, -1),
      this.redis.time(),
    ]);
    const now = this.clock ? this.clock() : Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    // the head's arrival score is its arrival time (ms) × 1000 (see keys.ts)
    const arrived = head.length ? Math.floor(Number(head[1]) / 1000) : null;
    const admittedLastMinute = admits.reduce((sum, m) => sum + Number(m.slice(m.lastIndexOf(":") + 1)), 0);
    return {
      ...counts,
      admittedLastMinute,
      oldestWaitSec: arrived === null ? null : Math.max(0, Math.round((now - arrived) / 1000)),
      totals,
    };
  }

  /** Live admission overrides shared by every instance (operator controls). */
  async getOverrides(): Promise<Partial<AdmissionSettings> & { paused: boolean }> {
    const raw = await this.redis.hgetall(this.keys.cfg);
    const num = (v?: string) => (v === undefined ? undefined : Number(v));
    return { tickMs: num(raw.tickMs), batch: num(raw.batch), maxActive: num(raw.maxActive), paused: raw.paused === "1" };
  }

  /** Drops every live override: back to each instance's configuration. */
  async clearOverrides(): Promise<void> {
    await this.redis.del(this.keys.cfg);
  }

  async setOverrides(o: Partial<AdmissionSettings> & { paused?: boolean }): Promise<void> {
    const fields: Record<string, string> = {};
    if (o.tickMs !== undefined) fields.tickMs = String(o.tickMs);
    if (o.batch !== undefined) fields.batch = String(o.batch);
    if (o.maxActive !== undefined) fields.maxActive = String(o.maxActive);
    if (o.paused !== undefined) fields.paused = o.paused ? "1" : "0";
    if (Object.keys(fields).length) await this.redis.hset(this.keys.cfg, fields);
  }
}
