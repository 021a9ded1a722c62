import type { Cluster, Redis } from "ioredis";
import { defineScripts, runScript } from "../lua/loader";
import { redisCall } from "../redis";
import { QueueRefusal } from "./codes";
import { newQueueToken, queueKeys, roomQueueName, tokenConcertId, tokenUserId, type QueueKeys } from "./keys";
import { drawLottery, type LotteryRecord } from "./lottery";
import {
  QUEUE_SCRIPTS,
  authorizeScript,
  drawScript,
  extendScript,
  withdrawScript,
  finishScript,
  issueScript,
  pollScript,
  tickScript,
  type AdmissionSettings,
  type AuthResult,
  type IssueProof,
  type IssueResult,
  type PollResult,
  type SaleSchedule,
  type TickResult,
} from "./scripts";

export { isMalformedRoomToken, newQueueToken, queueKeys, roomQueueName, tokenConcertId, tokenUserId, type QueueKeys } from "./keys";
export type { AdmissionSettings, AuthResult, IssueProof, IssueResult, PollResult, SaleSchedule, SlotWait, TickResult } from "./scripts";
export { LOTTERY_ALGORITHM, SeededRandom, drawLottery, drawOrder, sha256Hex, verifyLottery, type LotteryRecord } from "./lottery";

export { QueueRefusal } from "./codes";

/**
 * Whether `err` refuses, as unknown, a token we issued to this user: well-formed and carrying their
 * id (or any user's, when the caller names none), yet not in Redis. That is a place lost to a
 * failover or a data loss (or a token finished longer ago than the retention); the client is
 * answered as for any unknown token (401, queue again), and operators count it.
 */
export function isLostToken(err: unknown, token: string, userId?: number): boolean {
  if (!(err instanceof QueueRefusal) || err.refusal !== "UNKNOWN_TOKEN") return false;
  const owner = tokenUserId(token);
  return owner !== null && (userId === undefined || owner === userId);
}

export type FinishReason = "paid" | "expired" | "evicted" | "cancelled";

export interface QueueTokensOptions {
  /** queue name; keys are tagged `{q:<name>}` (a concert's own room: `{q:<name>:c<concertId>}`) */
  name?: string;
  /**
   * a concert's own room: this store's tokens are that room's (the name is then the deployment's
   * QUEUE_NAME, and the keys are the room's); absent: the general room
   */
  concertId?: number;
  /** a token finished by its payment still passes POST /api/payment this long */
  paymentReplaySec: number;
  /** a finished token stays answerable (FINISHED) at least this long */
  finishedRetentionSec?: number;
  /**
   * Tests only: a clock (ms) passed to the scripts instead of the Redis server's TIME, so that
   * expiry can be tested without sleeping. Production leaves it unset: one clock, Redis's.
   */
  clock?: () => number;
}

export interface QueueStoreOptions extends QueueTokensOptions {
  /** an admitted token lives this long after admission or its last use, up to its session's cap */
  activeTtlSec: number;
  /**
   * an admitted token's session ends this long after admission however often it is used (its
   * cap, stored in the token at admission); past it only a seat hold's extension keeps it alive,
   * and only for paying ({@link QueueStore.authorize}'s `overtimeOk`); default {@link DEFAULT_SESSION_MAX_SEC}
   */
  sessionMaxSec?: number;
  /** a waiting token not polled for this long is dropped at the next tick */
  idleTtlSec: number;
  /** most tokens expired or evicted per tick (bounds the work of one tick) */
  maxSweepPerTick?: number;
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
/** an admitted session's absolute length (the gateway's ACTIVE_SESSION_MAX_SEC default) */
export const DEFAULT_SESSION_MAX_SEC = 900;

/**
 * What booking does with a queue token: extend it to cover a seat hold, finish it after payment.
 * The one owner of queue-token state in Redis is this class and its gateway subclass, QueueStore;
 * no app spells a queue key itself.
 */
export class QueueTokens {
  readonly keys: QueueKeys;
  /** the concert whose own room this store serves; null: the general room */
  readonly concertId: number | null;
  protected readonly retentionMs: number;
  protected readonly clock?: () => number;
  private readonly baseName: string;
  private readonly roomKeys = new Map<number, QueueKeys>();

  constructor(
    protected readonly redis: Redis | Cluster,
    options: QueueTokensOptions,
  ) {
    defineScripts(redis, [extendScript, finishScript]);
    this.baseName = options.name ?? "main";
    this.concertId = options.concertId ?? null;
    this.keys = queueKeys(this.concertId === null ? this.baseName : roomQueueName(this.baseName, this.concertId));
    this.retentionMs = Math.max(options.finishedRetentionSec ?? DEFAULT_FINISHED_RETENTION_SEC, options.paymentReplaySec) * 1000;
    this.clock = options.clock;
  }

  /** Keeps an active token alive at least until `untilMs` (Redis clock, ms). False if not active. */
  async extendActive(token: string, untilMs: number): Promise<boolean> {
    const keys = this.keysOf(token);
    return runScript(this.redis, extendScript, keys, { prefix: keys.prefix, token, untilMs: Math.ceil(untilMs), forMs: 0, clock: "" });
  }

  /**
   * Keeps an active token alive at least `ms` from now on the Redis clock (the script reads it), so
   * the caller needs no Redis time first and can send this with other commands in one round trip.
   * False if not active.
   */
  async keepActiveFor(token: string, ms: number): Promise<boolean> {
    const keys = this.keysOf(token);
    return runScript(this.redis, extendScript, keys, { prefix: keys.prefix, token, untilMs: "", forMs: Math.ceil(ms), clock: this.now() });
  }

  /** Ends a token, admitted or still waiting (after payment: reason "paid"). False if it was unknown or already finished. */
  async finish(token: string, reason: FinishReason): Promise<boolean> {
    const keys = this.keysOf(token);
    return runScript(this.redis, finishScript, keys, {
      prefix: keys.prefix,
      token,
      reason,
      retentionMs: this.retentionMs,
      clock: this.now(),
    });
  }

  /**
   * The keys of the room the token is of: the general room's tokens go to the general room's keys,
   * a concert room's to that room's (booking holds one QueueTokens for every room). A store built
   * for one concert's room answers only for its own tokens: another room's are unknown to it.
   */
  protected keysOf(token: string): QueueKeys {
    const concertId = tokenConcertId(token);
    if (concertId === this.concertId || this.concertId !== null) return this.keys;
    let keys = this.roomKeys.get(concertId as number);
    if (!keys) {
      if (this.roomKeys.size > 10_000) this.roomKeys.clear();
      keys = queueKeys(roomQueueName(this.baseName, concertId as number));
      this.roomKeys.set(concertId as number, keys);
    }
    return keys;
  }

  /** The injected clock for a script's `clock` ARGV, or '' (the script reads Redis TIME). */
  protected now(): number | "" {
    return this.clock ? Math.floor(this.clock()) : "";
  }
}

/**
 * The gateway's queue: issues, polls, authorises and ticks tokens, and gives operators their
 * statistics and live overrides (and, as QueueTokens, extends and finishes them).
 */
export class QueueStore extends QueueTokens {
  private readonly activeTtlMs: number;
  private readonly sessionMaxMs: number;
  private readonly idleTtlMs: number;
  private readonly replayMs: number;
  private readonly maxSweep: number;

  constructor(redis: Redis | Cluster, options: QueueStoreOptions) {
    super(redis, options);
    defineScripts(redis, QUEUE_SCRIPTS);
    this.activeTtlMs = options.activeTtlSec * 1000;
    this.sessionMaxMs = (options.sessionMaxSec ?? DEFAULT_SESSION_MAX_SEC) * 1000;
    this.idleTtlMs = options.idleTtlSec * 1000;
    this.replayMs = options.paymentReplaySec * 1000;
    this.maxSweep = options.maxSweepPerTick ?? 5000;
  }

  /**
   * A new token at the back of the queue, or the user's live token and place to a caller with
   * proof that it is theirs (AppError ALREADY_QUEUED to anyone else); given the admission limit in
   * force, a waiting answer also says what a full active set adds to the wait.
   */
  async issue(userId: number, maxActive?: number, proof: IssueProof = {}, schedule?: SaleSchedule): Promise<IssueResult> {
    return runScript(this.redis, issueScript, this.keys, {
      prefix: this.keys.prefix,
      userId,
      newToken: newQueueToken(userId, this.concertId),
      presentedToken: proof.presentedToken ?? "",
      verified: proof.verified ? "1" : "",
      maxActive: maxActive ?? "",
      retentionMs: this.retentionMs,
      opensAt: schedule ? schedule.opensAt : "",
      prequeueFrom: schedule ? schedule.prequeueFrom : "",
      closesAt: schedule?.closesAt ?? "",
      clock: this.now(),
    });
  }

  /**
   * Takes back the place `issue` just made for the user with `token` while it still waits (its
   * answer could not be given: too few replicas acknowledged it). False when the user's live token
   * is another one or was admitted meanwhile.
   */
  async withdraw(userId: number, token: string): Promise<boolean> {
    return runScript(this.redis, withdrawScript, this.keys, { userId, token });
  }

  /**
   * State of a token that the client says is the user's; refuses unknown or foreign tokens. Given
   * the admission limit in force, a waiting answer also says what a full active set adds to the wait.
   */
  async poll(userId: number, token: string, maxActive?: number): Promise<PollResult> {
    return runScript(this.redis, pollScript, this.keys, {
      prefix: this.keys.prefix,
      token,
      userId,
      maxActive: maxActive ?? "",
      retentionMs: this.retentionMs,
      clock: this.now(),
    });
  }

  /**
   * Checks a token for a protected route and counts this request as its use (up to the session's
   * cap). Past the cap a token a hold keeps alive passes only where `overtimeOk` (paying that
   * hold); elsewhere it is refused (SESSION_OVER) and nothing changes.
   */
  async authorize(token: string, { overtimeOk = false }: { overtimeOk?: boolean } = {}): Promise<AuthResult> {
    return runScript(this.redis, authorizeScript, this.keys, {
      prefix: this.keys.prefix,
      token,
      activeTtlMs: this.activeTtlMs,
      sessionMaxMs: this.sessionMaxMs,
      overtimeOk: overtimeOk ? 1 : 0,
      retentionMs: this.retentionMs,
      replayMs: this.replayMs,
      clock: this.now(),
    });
  }

  /** Runs one admission tick (a no-op if another instance already ran this slot). */
  async tick(settings: AdmissionSettings & { admitPerFreeSeat?: number }, schedule?: SaleSchedule): Promise<TickResult> {
    return runScript(this.redis, tickScript, this.keys, {
      prefix: this.keys.prefix,
      defaultTickMs: settings.tickMs,
      defaultBatch: settings.batch,
      defaultMaxActive: settings.maxActive,
      activeTtlMs: this.activeTtlMs,
      sessionMaxMs: this.sessionMaxMs,
      idleTtlMs: this.idleTtlMs,
      retentionMs: this.retentionMs,
      maxSweep: this.maxSweep,
      opensAt: schedule ? schedule.opensAt : "",
      closesAt: schedule?.closesAt ?? "",
      admitPerFreeSeat: settings.admitPerFreeSeat ?? "",
      clock: this.now(),
    });
  }

  /** A concert room's inventory as booking last wrote it (free, held, sold seats of its future dates), or null. */
  async inventory(): Promise<{ free: number; held: number; sold: number } | null> {
    const raw = await redisCall(this.redis.hgetall(this.keys.inv));
    if (raw.free === undefined) return null;
    return { free: Number(raw.free), held: Number(raw.held ?? 0), sold: Number(raw.sold ?? 0) };
  }

  /**
   * The opening's lottery (lottery.ts), once across all instances: whoever claims the room's draw
   * lock reads the pre-queue, draws its order from a fresh CSPRNG seed and applies it with a script
   * that moves the pre-queue into the queue only if no draw was made yet. The record (seed,
   * participants, hashes) is kept in the room's `draw` hash for the audit. Returns the record when
   * this call drew, null when another instance holds the lock, the draw was made, or it is not
   * yet opensAt on the Redis clock.
   */
  async drawLottery(opensAt: number, drawnBy: string): Promise<LotteryRecord | null> {
    const k = this.keys;
    const claimed = await redisCall(this.redis.set(k.drawLock, drawnBy, "PX", 30_000, "NX"));
    if (claimed === null) return null;
    try {
      if ((await redisCall(this.redis.exists(k.draw))) === 1) return null;
      const participants = (await redisCall(this.redis.zrange(k.pre, 0, -1))).map(Number);
      const { order, record } = drawLottery(participants, drawnBy, new Date(this.clock ? this.clock() : Date.now()));
      const outcome = await runScript(this.redis, drawScript, k, {
        order: order.join(","),
        opensAt,
        record: JSON.stringify(record),
        clock: this.now(),
      });
      return outcome.drawn ? record : null;
    } finally {
      await redisCall(this.redis.del(k.drawLock)).catch(() => 0);
    }
  }

  /** The opening's lottery record, or null before the draw. */
  async lottery(): Promise<LotteryRecord | null> {
    const raw = await redisCall(this.redis.hget(this.keys.draw, "record"));
    return raw ? (JSON.parse(raw) as LotteryRecord) : null;
  }

  /** How many are in the pre-queue now. */
  async prequeued(): Promise<number> {
    return redisCall(this.redis.zcard(this.keys.pre));
  }

  /** Counts for operators and metrics. */
  async counts(): Promise<{ waiting: number; active: number }> {
    const [waiting, active] = await redisCall(Promise.all([this.redis.zcard(this.keys.waiting), this.redis.zcard(this.keys.active)]));
    return { waiting, active };
  }

  async totals(): Promise<Record<string, number>> {
    const raw = await redisCall(this.redis.hgetall(this.keys.stats));
    return Object.fromEntries(Object.entries(raw).map(([key, v]) => [key, Number(v)]));
  }

  /** Queue statistics for operators (times on the Redis clock). */
  async stats(): Promise<QueueStats> {
    const k = this.keys;
    const [counts, totals, head, admits, time] = await Promise.all([
      this.counts(),
      this.totals(),
      redisCall(this.redis.zrange(k.waiting, 0, 0, "WITHSCORES")),
      redisCall(this.redis.zrange(k.admits, 0, -1)),
      redisCall(this.redis.time()),
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

  /** Admitted per second over the last minute, as the last tick measured it (null before any). */
  async measuredRate(): Promise<number | null> {
    const raw = await redisCall(this.redis.get(this.keys.rate));
    return raw === null ? null : Number(raw);
  }

  /** Live admission overrides shared by every instance (operator controls). */
  async getOverrides(): Promise<Partial<AdmissionSettings> & { paused: boolean }> {
    const raw = await redisCall(this.redis.hgetall(this.keys.cfg));
    const num = (v?: string) => (v === undefined ? undefined : Number(v));
    return { tickMs: num(raw.tickMs), batch: num(raw.batch), maxActive: num(raw.maxActive), paused: raw.paused === "1" };
  }

  /** Drops every live override: back to each instance's configuration. */
  async clearOverrides(): Promise<void> {
    await redisCall(this.redis.del(this.keys.cfg));
  }

  async setOverrides(o: Partial<AdmissionSettings> & { paused?: boolean }): Promise<void> {
    const fields: Record<string, string> = {};
    if (o.tickMs !== undefined) fields.tickMs = String(o.tickMs);
    if (o.batch !== undefined) fields.batch = String(o.batch);
    if (o.maxActive !== undefined) fields.maxActive = String(o.maxActive);
    if (o.paused !== undefined) fields.paused = o.paused ? "1" : "0";
    if (Object.keys(fields).length) await redisCall(this.redis.hset(this.keys.cfg, fields));
  }
}
