import { isLostToken, type IssueProof, type IssueResult, type QueueStore, type SlotWait, type TokenView } from "@concert/shared";
import type { ReplicaAcks } from "./replica-acks";

export interface QueueServiceOptions {
  /**
   * the admission settings in force: the rate for the wait estimate before any admission was
   * measured, and the limit that tells whether admission is blocked by a full active set
   */
  settings: () => { batch: number; tickMs: number; maxActive: number };
  /**
   * REDIS_MIN_REPLICAS_ACK > 0: issues go through this store, on the connection `acks` waits on,
   * and are answered only once the replicas have them (see {@link QueueService.acknowledgedIssue})
   */
  acknowledged?: { store: QueueStore; acks: ReplicaAcks };
  /** a poll presented a token we issued to this user that Redis does not know (a lost place) */
  onLostToken?: () => void;
}

/**
 * The queue as clients see it: a token, its status, its rank (1 = next in) and the expected
 * wait, computed from the admission rate measured over the last minute and, while the active set
 * is full, from when its tokens end.
 */
export class QueueService {
  constructor(
    private readonly store: QueueStore,
    private readonly options: QueueServiceOptions,
  ) {}

  /** A new place, or the user's live one to a caller with proof it is theirs (else ALREADY_QUEUED). */
  async issueToken(userId: number, proof: IssueProof): Promise<TokenView> {
    const { token, status, rank, blocked } = await this.acknowledgedIssue(userId, this.options.settings().maxActive, proof);
    return { token, status, rank, estimatedWaitSec: rank === null ? 0 : this.estimateWait(rank, null, blocked) };
  }

  /**
   * The issue, and with REDIS_MIN_REPLICAS_ACK its confirmation by the replicas: a token is only
   * handed out once a failover would keep it. Else 503, and a place this issue made is withdrawn
   * first: the client never got its token, and a place left behind would answer its retry 409
   * ALREADY_QUEUED (it could not present a token it never saw). If the withdrawal does not reach
   * the replicas either, what a failover keeps is a place nobody polls: it lapses after
   * WAITING_IDLE_TTL_SEC.
   */
  private async acknowledgedIssue(userId: number, maxActive: number, proof: IssueProof): Promise<IssueResult> {
    const acknowledged = this.options.acknowledged;
    if (!acknowledged) return this.store.issue(userId, maxActive, proof);
    const deadline = acknowledged.acks.deadline();
    const issued = await acknowledged.store.issue(userId, maxActive, proof);
    try {
      await acknowledged.acks.confirm(deadline);
    } catch (err) {
      if (issued.created) await acknowledged.store.withdraw(userId, issued.token).catch(() => false);
      throw err;
    }
    return issued;
  }

  async tokenView(userId: number, token: string): Promise<TokenView> {
    const state = await this.store.poll(userId, token, this.options.settings().maxActive).catch((err: unknown) => {
      if (isLostToken(err, token, userId)) this.options.onLostToken?.();
      throw err;
    });
    switch (state.status) {
      case "WAITING":
        return {
          token,
          status: "WAITING",
          rank: state.rank,
          estimatedWaitSec: this.estimateWait(state.rank, state.ratePerSec, state.blocked),
        };
      case "IN_PROGRESS":
        return { token, status: "IN_PROGRESS", rank: null, estimatedWaitSec: 0 };
      case "FINISHED":
        return { token, status: "FINISHED", rank: null, estimatedWaitSec: null };
    }
  }

  /**
   * rank ÷ admissions per second (measured over the last minute, else the configured rate); when
   * the active set has no room for this rank, at least until enough active tokens end (and the
   * slots still to turn over after the last of them, at that rate). A rate measured while
   * admission was blocked says nothing about when a slot frees, hence the bound.
   */
  estimateWait(rank: number, measuredPerSec: number | null, blocked?: SlotWait): number {
    const { batch, tickMs } = this.options.settings();
    const perSec = measuredPerSec && measuredPerSec > 0 ? measuredPerSec : (batch * 1000) / tickMs;
    const byRate = Math.ceil(rank / perSec);
    return blocked ? Math.max(byRate, Math.ceil(blocked.inMs / 1000 + blocked.slotsAfter / perSec)) : byRate;
  }
}
