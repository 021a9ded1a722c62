import type { QueueStore, TokenView } from "@concert/shared";

export interface QueueServiceOptions {
  /** the admission settings in force, for the wait estimate before any admission was measured */
  settings: () => { batch: number; tickMs: number };
}

/**
 * The queue as clients see it: a token, its status, its rank (1 = next in) and the expected
 * wait, computed from the admission rate measured over the last minute.
 */
export class QueueService {
  constructor(
    private readonly store: QueueStore,
    private readonly options: QueueServiceOptions,
  ) {}

  async issueToken(userId: number): Promise<TokenView> {
    const { token, status, rank } = await this.store.issue(userId);
    return { token, status, rank, estimatedWaitSec: rank === null ? 0 : this.estimateWait(rank, null) };
  }

  async tokenView(userId: number, token: string): Promise<TokenView> {
    const state = await this.store.poll(userId, token);
    switch (state.status) {
      case "WAITING":
        return { token, status: "WAITING", rank: state.rank, estimatedWaitSec: this.estimateWait(state.rank, state.ratePerSec) };
      case "IN_PROGRESS":
        return { token, status: "IN_PROGRESS", rank: null, estimatedWaitSec: 0 };
      case "FINISHED":
        return { token, status: "FINISHED", rank: null, estimatedWaitSec: null };
    }
  }

  /** rank ÷ admissions per second (measured over the last minute, else the configured rate). */
  estimateWait(rank: number, measuredPerSec: number | null): number {
    const { batch, tickMs } = this.options.settings();
    const perSec = measuredPerSec && measuredPerSec > 0 ? measuredPerSec : (batch * 1000) / tickMs;
    return Math.ceil(rank / perSec);
  }
}
