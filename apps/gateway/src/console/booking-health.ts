import type { Cluster, Redis } from "ioredis";
import { HISTORY_SLOT_MS, redisCall, type BookingHealthView, type Metrics } from "@concert/shared";

const WINDOW_MS = 60_000;

/**
 * Booking's health from the gateway's own metrics (http_request_duration_seconds of the forwarded
 * booking routes, the latency and status each answer had at the edge): at each slot every
 * instance adds what it answered since its last push (counts, 5xx, histogram buckets) into that
 * slot's Redis hash, so any instance can sum the last minute of every instance.
 */
export class BookingHealth {
  private readonly pushed = new Map<string, number>();
  private readonly slotMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly queueName: string,
    private readonly metrics: Metrics,
    private readonly routes: ReadonlySet<string>,
    options: { slotMs?: number; now?: () => number } = {},
  ) {
    this.slotMs = options.slotMs ?? HISTORY_SLOT_MS;
    this.now = options.now ?? Date.now;
  }

  private key(slot: number): string {
    return `{hist:${this.queueName}}:booking:${slot}`;
  }

  /** This instance's totals so far: `n` requests, `e` 5xx, `b:<le>` cumulative bucket counts. */
  private async totals(): Promise<Map<string, number>> {
    const totals = new Map<string, number>();
    const add = (field: string, v: number) => totals.set(field, (totals.get(field) ?? 0) + v);
    for (const v of (await this.metrics.httpDuration.get()).values) {
      const route = String(v.labels.route ?? "");
      if (!this.routes.has(route)) continue;
      if (v.metricName?.endsWith("_bucket")) add(`b:${String((v.labels as Record<string, unknown>).le)}`, v.value);
      else if (v.metricName?.endsWith("_count")) {
        add("n", v.value);
        if (Number(v.labels.status) >= 500) add("e", v.value);
      }
    }
    return totals;
  }

  /** What this instance answered since its last push. */
  private async unpushed(): Promise<[string, number][]> {
    const deltas: [string, number][] = [];
    for (const [field, v] of await this.totals()) {
      const d = v - (this.pushed.get(field) ?? 0);
      if (d > 0) deltas.push([field, d]);
    }
    return deltas;
  }

  /** Adds what this instance answered since its last push to the current slot. */
  async push(): Promise<void> {
    const deltas = await this.unpushed();
    if (deltas.length === 0) return;
    const key = this.key(Math.floor(this.now() / this.slotMs));
    const multi = this.redis.multi();
    for (const [field, d] of deltas) multi.hincrby(key, field, d);
    multi.pexpire(key, WINDOW_MS * 2);
    await redisCall(multi.exec());
    for (const [field, d] of deltas) this.pushed.set(field, (this.pushed.get(field) ?? 0) + d);
  }

  /** The last minute (the slots that ended in it, and the current one): every instance's pushes, and this one's unpushed answers. */
  async read(): Promise<BookingHealthView> {
    const current = Math.floor(this.now() / this.slotMs);
    const slots = Array.from({ length: Math.ceil(WINDOW_MS / this.slotMs) + 1 }, (_, i) => current - i);
    const hashes = await redisCall(Promise.all(slots.map((s) => this.redis.hgetall(this.key(s)))));
    const sum = new Map<string, number>();
    for (const h of hashes) for (const [f, v] of Object.entries(h)) sum.set(f, (sum.get(f) ?? 0) + Number(v));
    // and this instance's answers since its last push (not yet in Redis), so its own figures are current
    for (const [f, d] of await this.unpushed()) sum.set(f, (sum.get(f) ?? 0) + d);
    const requests = sum.get("n") ?? 0;
    const errors = sum.get("e") ?? 0;
    let p99Sec: number | null = null;
    let p99AboveMax = false;
    if (requests > 0) {
      const buckets = [...sum]
        .filter(([f]) => f.startsWith("b:"))
        .map(([f, v]) => ({ le: f === "b:+Inf" ? Infinity : Number(f.slice(2)), v }))
        .sort((x, y) => x.le - y.le);
      const finite = buckets.filter((b) => Number.isFinite(b.le));
      const hit = finite.find((b) => b.v >= 0.99 * requests);
      p99Sec = hit?.le ?? finite.at(-1)?.le ?? null;
      p99AboveMax = hit === undefined;
    }
    return { requests, errors, errorRate: requests ? errors / requests : null, p99Sec, p99AboveMax, windowSec: WINDOW_MS / 1000 };
  }
}
