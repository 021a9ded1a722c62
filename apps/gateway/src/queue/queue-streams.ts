import type { IncomingMessage, ServerResponse } from "node:http";
import { AppError, dependencyOf, type Logger, type QueueStreamEvent, type TokenView } from "@concert/shared";
import type { QueueService } from "./queue-service";
import type { TickEvents, TickMessage } from "./tick-events";

export interface QueueStreamsOptions {
  /** a comment line on every open stream this often, so proxies keep idle streams open */
  heartbeatMs?: number;
  /**
   * A tick that admitted, expired and evicted nobody changes no rank; such ticks refresh the
   * streams only this often (the refresh is also the waiting tokens' heartbeat, so keep it well
   * under WAITING_IDLE_TTL_SEC).
   */
  idleRefreshMs?: number;
  /** streams recomputed per Redis round trip (ioredis pipelines each batch) */
  batchSize?: number;
  /** the client's reconnect delay, sent as the stream's `retry:` field */
  retryMs?: number;
}

interface Stream {
  userId: number;
  token: string;
  res: ServerResponse;
  /** the last data frame sent, to send only changes */
  last: string;
  /** a frame waiting for the socket to drain (only the newest is kept) */
  pending: string | null;
}

const TERMINAL = new Set(["IN_PROGRESS", "FINISHED"]);

/**
 * The open `GET /api/queue/stream` connections of this instance. Nothing polls Redis per client:
 * each tick message (one Redis PUBLISH per tick, see TickEvents) triggers one recompute of every
 * stream's view in pipelined batches, and a frame goes out only to streams whose view changed.
 * A stream ends after it has sent IN_PROGRESS or FINISHED.
 */
export class QueueStreams {
  private readonly streams = new Set<Stream>();
  private readonly heartbeatMs: number;
  private readonly idleRefreshMs: number;
  private readonly batchSize: number;
  private readonly retryMs: number;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private refreshing: Promise<void> | null = null;
  private again = false;
  private lastRefresh = Date.now();
  private lastFailureLog = 0;
  /** counters for the benchmark and operators */
  readonly stats = { refreshes: 0, recomputed: 0, sent: 0, lastRefreshMs: 0 };

  constructor(
    private readonly queue: QueueService,
    events: TickEvents,
    private readonly logger: Logger,
    options: QueueStreamsOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.idleRefreshMs = options.idleRefreshMs ?? 5_000;
    this.batchSize = options.batchSize ?? 1_000;
    this.retryMs = options.retryMs ?? 2_000;
    this.unsubscribe = events.onTick((m) => this.onTick(m));
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Checks the token (401/403 through the error middleware while nothing is sent yet), then
   * turns the response into an event stream with the current view as its first frame.
   */
  async open(req: IncomingMessage, res: ServerResponse, userId: number, token: string): Promise<void> {
    const view = await this.queue.tokenView(userId, token);
    res.statusCode = 200;
    res.setHeader("content-type", "text/event-stream; charset=utf-8");
    res.setHeader("cache-control", "no-cache, no-transform");
    res.setHeader("connection", "keep-alive");
    res.setHeader("x-accel-buffering", "no"); // nginx: do not buffer the stream
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.write(`retry: ${this.retryMs}\n\n`);

    const stream: Stream = { userId, token, res, last: "", pending: null };
    res.on("drain", () => {
      const frame = stream.pending;
      stream.pending = null;
      if (frame) res.write(frame);
    });
    res.on("close", () => this.streams.delete(stream));
    this.streams.add(stream);
    this.send(stream, view);
  }

  /** Recomputes every open stream now (coalesced: one refresh at a time, at most one queued). */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = this.refreshAll().finally(() => {
      this.refreshing = null;
      if (this.again) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.refreshing;
  }

  /** Ends every stream (shutdown); clients reconnect to another instance after `retry`. */
  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  private onTick(m: TickMessage): void {
    if (this.streams.size === 0) return;
    const changed = m.admitted > 0 || m.expired > 0 || m.evicted > 0 || m.resync === true;
    if (changed || Date.now() - this.lastRefresh >= this.idleRefreshMs) void this.refresh();
  }

  private async refreshAll(): Promise<void> {
    const started = process.hrtime.bigint();
    this.lastRefresh = Date.now();
    const all = [...this.streams];
    for (let i = 0; i < all.length; i += this.batchSize) {
      const batch = all.slice(i, i + this.batchSize).filter((s) => this.streams.has(s));
      await Promise.all(
        batch.map((s) =>
          this.queue.tokenView(s.userId, s.token).then(
            (view) => this.send(s, view),
            (err: unknown) => this.refused(s, err),
          ),
        ),
      );
    }
    this.stats.refreshes++;
    this.stats.recomputed += all.length;
    this.stats.lastRefreshMs = Number(process.hrtime.bigint() - started) / 1e6;
  }

  private send(s: Stream, view: TokenView): void {
    const event: QueueStreamEvent = { status: view.status, rank: view.rank, estimatedWaitSec: view.estimatedWaitSec };
    const data = JSON.stringify(event);
    if (data !== s.last) {
      s.last = data;
      this.write(s, `data: ${data}\n\n`);
      this.stats.sent++;
    }
    if (TERMINAL.has(view.status)) this.end(s);
  }

  /** The token went bad (unknown, another user's): say why, then end. A Redis outage keeps streams open. */
  private refused(s: Stream, err: unknown): void {
    if (err instanceof AppError && err.status < 500) {
      this.write(s, `event: refused\ndata: ${JSON.stringify({ code: err.code, message: err.message })}\n\n`);
      this.end(s);
      return;
    }
    if (Date.now() - this.lastFailureLog > 10_000) {
      this.lastFailureLog = Date.now();
      this.logger.warn(
        { dependency: dependencyOf(err), err: { message: (err as Error)?.message } },
        "stream refresh failed; streams stay open",
      );
    }
  }

  private beat(): void {
    for (const s of this.streams) if (!s.res.writableNeedDrain) s.res.write(": heartbeat\n\n");
    // Safety net when no tick message arrives (no instance ticking, or messages lost).
    if (this.streams.size > 0 && Date.now() - this.lastRefresh >= this.heartbeatMs) void this.refresh();
  }

  private write(s: Stream, frame: string): void {
    if (s.res.writableEnded) return;
    if (s.res.writableNeedDrain) s.pending = frame;
    else s.res.write(frame);
  }

  private end(s: Stream): void {
    this.streams.delete(s);
    if (s.pending) s.res.write(s.pending);
    s.pending = null;
    s.res.end();
  }
}
