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
 * after the first was sent, so it may not cover them). Each write has one timeout from its start
 * (see {@link ReplicaAcks.deadline}), whatever it waited behind: a WAIT waits only what is left of
 * the earliest deadline among its callers, and none is sent once that has passed.
 */
export class ReplicaAcks {
  private inFlight: Promise<unknown> | null = null;
  private next: { done: Promise<void>; deadline: number } | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly settings: ReplicaAckSettings,
  ) {}

  /** Taken before the write: the time by which its confirmation must have come. */
  deadline(): number {
    return Date.now() + this.settings.timeoutMs;
  }

  /** Resolves once every write this connection finished so far is on enough replicas; else throws DependencyError. */
  confirm(deadline: number): Promise<void> {
    if (this.next) {
      this.next.deadline = Math.min(this.next.deadline, deadline);
      return this.next.done;
    }
    const next = { deadline, done: Promise.resolve() };
    next.done = this.afterInFlight().then(() => this.sendWait(next.deadline));
    this.next = next;
    return next.done;
  }

  private async afterInFlight(): Promise<void> {
    // a WAIT sent before the caller's write ended may not cover it: wait for it to return first
    await this.inFlight?.catch(() => {});
  }

  private async sendWait(deadline: number): Promise<void> {
    this.next = null;
    const { minReplicas } = this.settings;
    const leftMs = deadline - Date.now();
    if (leftMs < 1) throw tooFewReplicas(`no time left to wait for ${minReplicas} replicas`);
    const wait = redisCall(this.redis.call("WAIT", minReplicas, leftMs) as Promise<number>);
    this.inFlight = wait;
    const acked = await wait.finally(() => {
      if (this.inFlight === wait) this.inFlight = null;
    });
    if (acked < minReplicas) throw tooFewReplicas(`WAIT: ${acked} of ${minReplicas} replicas acknowledged`);
  }
}

function tooFewReplicas(why: string): DependencyError {
  return new DependencyError("redis", { cause: new Error(why) });
}
