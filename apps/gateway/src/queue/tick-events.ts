import type { Cluster, Redis } from "ioredis";
import type { Logger, TickResult } from "@concert/shared";

/** What one admission tick tells every gateway instance (JSON on the ticks channel). */
export interface TickMessage {
  admitted: number;
  expired: number;
  evicted: number;
  /** set locally (never published) after the subscriber reconnected: ticks may have been missed */
  resync?: boolean;
}

export type TickListener = (m: TickMessage) => void;

/** The queue's pub/sub channel for ticks; it shares the queue's hash tag `{q:<name>}`. */
export function ticksChannel(keyPrefix: string): string {
  return `${keyPrefix}ticks`;
}

/**
 * One Redis PUBLISH per admission tick that ran (whichever instance ran it), received by every
 * gateway instance on its own subscriber connection (a subscribed connection cannot run other
 * commands). Listeners on this instance (the open SSE streams) hear each message once.
 */
export class TickEvents {
  private readonly listeners = new Set<TickListener>();
  private closed = false;

  constructor(
    private readonly publisher: Redis | Cluster,
    private readonly subscriber: Redis | Cluster,
    readonly channel: string,
    private readonly logger: Logger,
  ) {
    subscriber.on("message", (ch: string, raw: string) => {
      if (ch !== this.channel) return;
      let message: TickMessage;
      try {
        message = JSON.parse(raw) as TickMessage;
      } catch {
        return;
      }
      this.emit(message);
    });
    // After a reconnect ioredis resubscribes by itself; ticks published meanwhile were missed,
    // so tell the listeners to look again.
    subscriber.on("ready", () => {
      if (!this.closed) this.emit({ admitted: 0, expired: 0, evicted: 0, resync: true });
    });
  }

  /** Subscribes the (already connected) subscriber connection to the channel. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.channel);
  }

  /** Called after a tick that ran; best effort (a lost message is covered by the streams' refresh). */
  async publish(result: TickResult): Promise<void> {
    const message: TickMessage = { admitted: result.admitted, expired: result.expired, evicted: result.evicted };
    try {
      await this.publisher.publish(this.channel, JSON.stringify(message));
    } catch (err) {
      this.logger.debug({ err: { message: (err as Error).message } }, "tick publish failed");
    }
  }

  /** Adds a listener; returns the function that removes it. */
  onTick(listener: TickListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private emit(message: TickMessage): void {
    for (const listener of this.listeners) {
      try {
        listener(message);
      } catch (err) {
        this.logger.warn({ err }, "tick listener failed");
      }
    }
  }
}
