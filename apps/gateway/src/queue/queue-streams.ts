import { readFileSync } from "node:fs";
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
  /** most open streams per queue token (a second tab, a reconnect overlapping the old stream) */
  maxPerToken?: number;
  /** most open streams per client address */
  maxPerClient?: number;
  /** most open streams on this instance (see {@link streamCap}) */
  maxStreams?: number;
  /** called for every stream refused by a cap */
  onRefused?: (cap: StreamCap) => void;
}

/** Which cap refused a stream: per token and per client are 429s, the instance's is a 503. */
export type StreamCap = "token" | "client" | "instance";

/** The soft "Max open files" of this process from /proc/self/limits, or null where there is none (not Linux). */
export function openFilesLimit(read: () => string = () => readFileSync("/proc/self/limits", "utf8")): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(read());
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The instance-wide stream cap: the configured one, lowered so that `reserve` descriptors stay
 * free for ordinary requests, Redis and booking connections and logs (Node cannot ask getrlimit;
 * the limit is read once, at start). Without a limit to read, the configured cap.
 */
export function streamCap(configured: number, reserve: number, limit: number | null = openFilesLimit()): number {
  return limit === null ? configured : Math.max(0, Math.min(configured, limit - reserve));
}

interface Stream {
  userId: number;
  token: string;
  client: string;
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
  /** open or opening streams by token and by client address (a slot is taken before the token check awaits Redis) */
  private readonly perToken = new Map<string, number>();
  private readonly perClient = new Map<string, number>();
  private opening = 0;
  private readonly maxPerToken: number;
  private readonly maxPerClient: number;
  readonly maxStreams: number;
  private readonly onRefused: (cap: StreamCap) => void;
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
    this.maxPerToken = options.maxPerToken ?? Infinity;
    this.maxPerClient = options.maxPerClient ?? Infinity;
    this.maxStreams = options.maxStreams ?? Infinity;
    this.onRefused = options.onRefused ?? (() => {});
    this.unsubscribe = events.onTick((m) => this.onTick(m));
    this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.streams.size;
  }

  /**
   * Takes a slot under every cap (429/503 while nothing is sent yet), checks the token (401/403
   * the same way), then turns the response into an event stream with the current view as its
   * first frame. `client` is the caller's address as the rate limiter resolves it.
   */
  async open(req: IncomingMessage, res: ServerResponse, userId: number, token: string, client: string): Promise<void> {
    this.take(token, client);
    let view: TokenView;
    try {
      view = await this.queue.tokenView(userId, token);
    } catch (err) {
      this.release(token, client);
      throw err;
    } finally {
      this.opening--;
    }
    if (req.socket.destroyed) {
      // the client left during the token check: its "close" has passed, so nothing else would free the slot
      this.release(token, client);
      return;
    }
    res.statusCode = 200;
    res.setHeader("content-type", "text/event-stream; charset=utf-8");
    res.setHeader("cache-control", "no-cache, no-transform");
    res.setHeader("connection", "keep-alive");
    res.setHeader("x-accel-buffering", "no"); // nginx: do not buffer the stream
    res.flushHeaders();
    req.socket.setNoDelay(true);
    req.socket.setTimeout(0);
    res.write(`retry: ${this.retryMs}\n\n`);

    const stream: Stream = { userId, token, client, res, last: "", pending: null };
    res.on("drain", () => {
      const frame = stream.pending;
      stream.pending = null;
      if (frame) res.write(frame);
    });
    // "close" comes both when the server ended the stream and when the client left
    res.on("close", () => {
      this.streams.delete(stream);
      this.release(token, client);
    });
    this.streams.add(stream);
    this.send(stream, view);
  }

  /** Counts a new stream against every cap, or throws the refusal of the first cap it would pass. */
  private take(token: string, client: string): void {
    const refuse = (cap: StreamCap, err: AppError) => {
      err.retryAfterSec = Math.ceil(this.retryMs / 1000);
      this.onRefused(cap);
      throw err;
    };
    if (this.streams.size + this.opening >= this.maxStreams) {
      refuse(
        "instance",
        new AppError("SERVICE_UNAVAILABLE", "This instance has no room for another stream; retry, or poll the token route"),
      );
    }
    if ((this.perToken.get(token) ?? 0) >= this.maxPerToken) {
      refuse("token", new AppError("RATE_LIMITED", `At most ${this.maxPerToken} open streams per queue token`));
    }
    if ((this.perClient.get(client) ?? 0) >= this.maxPerClient) {
      refuse("client", new AppError("RATE_LIMITED", `At most ${this.maxPerClient} open streams per client`));
    }
    this.opening++;
    this.perToken.set(token, (this.perToken.get(token) ?? 0) + 1);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
  }

  private release(token: string, client: string): void {
    decrement(this.perToken, token);
    decrement(this.perClient, client);
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
    const event: QueueStreamEvent = {
      status: view.status,
      rank: view.rank,
      estimatedWaitSec: view.estimatedWaitSec,
      concertId: view.concertId,
      ...(view.reason && { reason: view.reason }),
      ...(view.opensAt && { opensAt: view.opensAt }),
      ...(view.prequeueCount !== undefined && { prequeueCount: view.prequeueCount }),
      ...(view.seatsHeld !== undefined && { seatsHeld: view.seatsHeld }),
    };
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

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
