import type { Cluster, Redis } from "ioredis";
import { HISTORY_SLOT_MS, HISTORY_WINDOW_MS, redisCall, type HistorySample, type Logger } from "@concert/shared";

/** A room's figures in a sample (the general room's at the top level, each concert room's under `rooms`). */
export type RoomFigures = Omit<HistorySample, "at">;

/** What one measurement gives: the general room's figures and each concert room's, by concert id. */
export type Measured = RoomFigures & { rooms?: Record<string, RoomFigures> };

export interface HistoryOptions {
  slotMs?: number;
  windowMs?: number;
  /** tests: the clock (ms) that names the slots */
  now?: () => number;
}

export interface HistoryHooks {
  /** runs on every instance once per slot, whoever takes the sample (each instance's own figures) */
  everySlot?: () => Promise<void>;
}

/** The keys of a deployment's history (one per QUEUE_NAME; one hash tag, so a Cluster keeps them in one slot). */
export const historyKeys = (queueName: string) => ({
  samples: `{hist:${queueName}}:samples`,
  claim: (slot: number) => `{hist:${queueName}}:claim:${slot}`,
});

/**
 * The figures behind the console's charts, kept in Redis so every instance draws the same history:
 * one sample per slot (HISTORY_SLOT_MS), taken by whichever instance claims the slot first (SET NX
 * on the slot's claim key: exactly once across instances), in a sorted set by slot start, trimmed to
 * the window (HISTORY_WINDOW_MS), so it stays bounded at window / slot samples.
 */
export class History {
  readonly slotMs: number;
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly keys: ReturnType<typeof historyKeys>;
  private lastSlot = -1;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly redis: Redis | Cluster,
    queueName: string,
    private readonly measure: () => Promise<Measured>,
    options: HistoryOptions = {},
    private readonly hooks: HistoryHooks = {},
  ) {
    this.slotMs = options.slotMs ?? HISTORY_SLOT_MS;
    this.windowMs = options.windowMs ?? HISTORY_WINDOW_MS;
    this.now = options.now ?? Date.now;
    this.keys = historyKeys(queueName);
  }

  /** Takes the current slot's sample if no instance has: true when this call took it. */
  async sampleOnce(): Promise<boolean> {
    const now = this.now();
    const slot = Math.floor(now / this.slotMs);
    if (slot === this.lastSlot) return false;
    this.lastSlot = slot;
    await this.hooks.everySlot?.();
    const claimed = await redisCall(this.redis.set(this.keys.claim(slot), "1", "PX", this.slotMs * 2, "NX"));
    if (claimed === null) return false;
    const at = slot * this.slotMs;
    const sample: Measured & { at: number } = { at, ...(await this.measure()) };
    await redisCall(
      Promise.all([
        this.redis.zadd(this.keys.samples, at, JSON.stringify(sample)),
        this.redis.zremrangebyscore(this.keys.samples, "-inf", `(${at - this.windowMs}`),
      ]),
    );
    return true;
  }

  /**
   * The window's samples, oldest first: the general room's, or with `concertId` that concert
   * room's (the slots it had a room in; each sample measured every room at once).
   */
  async read(concertId?: number): Promise<{ slotMs: number; windowMs: number; samples: HistorySample[] }> {
    const from = this.now() - this.windowMs;
    const rows = await redisCall(this.redis.zrangebyscore(this.keys.samples, `(${from}`, "+inf"));
    const samples = rows.flatMap((r): HistorySample[] => {
      const { rooms, ...general } = JSON.parse(r) as Measured & { at: number };
      if (concertId === undefined) return [general];
      const room = rooms?.[String(concertId)];
      return room ? [{ at: general.at, ...room }] : [];
    });
    return { slotMs: this.slotMs, windowMs: this.windowMs, samples };
  }

  /** Tries every fifth of a slot (a slot is taken early in it whichever instance is first). */
  start(logger: Logger): void {
    this.timer = setInterval(
      () => {
        if (this.running) return;
        this.running = this.sampleOnce()
          .catch((err: Error) => logger.warn({ err: { message: err.message } }, "history sample failed; next slot retries"))
          .finally(() => (this.running = undefined));
      },
      Math.max(50, Math.floor(this.slotMs / 5)),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
