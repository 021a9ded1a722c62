import type { Redis } from "ioredis";
import { DependencyError, redisCall } from "@concert/shared";

export interface ReplicaAckSettings {
  /** replicas that must have a write before it is answered (REDIS_MIN_REPLICAS_ACK, ≥ 1 here) */
  minReplicas: number;
  /** how long one WAIT may block (REDIS_REPLICA_ACK_TIMEOUT_MS) */
  timeoutMs: number;
}

/**
 * "Acknowledged means kept": confirms that the writes this connection made reached at least
 * `minReplicas` replicas (Redis `WAIT`), so that a failover to a replica keeps them; too few in
 * time → DependencyError("redis") (503 with Retry-After) and the caller does not answer the write
 * as done.
 *
 * `WAIT` covers every write its connection made before it, and blocks that connection while it
 * waits, so this owns its connection (the writes to confirm go through it; nothing else waits
 * behind a WAIT) and shares one WAIT among all confirmations that ask while it is not yet sent.
 * While one WAIT is out, the next callers join the one sent when it returns (their writes ended
 * after the first was sent, so it may not cover them): a confirmation takes at most two timeouts,
 * and a burst of issues costs one WAIT per round trip, not one each.
 */
export class ReplicaAcks {
  private inFlight: Promise<unknown> | null = null;
  private next: Promise<void> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly settings: ReplicaAckSettings,
  ) {}

  /** Resolves once every write this connection finished so far is on enough replicas; else throws DependencyError. */
  confirm(): Promise<void> {
    this.next ??= this.afterInFlight().then(() => this.sendWait());
    return this.next;
  }

  private async afterInFlight(): Promise<void> {
    // a WAIT sent before the caller's write ended may not cover it: wait for it to return first
    await this.inFlight?.catch(() => {});
  }

  private async sendWait(): Promise<void> {
    this.next = null;
    const { minReplicas, timeoutMs } = this.settings;
    const wait = redisCall(this.redis.call("WAIT", minReplicas, timeoutMs) as Promise<number>);
    this.inFlight = wait;
    const acked = await wait.finally(() => {
      if (this.inFlight === wait) this.inFlight = null;
    });
    if (acked < minReplicas)
      throw new DependencyError("redis", { cause: new Error(`WAIT: ${acked} of ${minReplicas} replicas acknowledged`) });
  }
}
