import {
  AppError,
  isLostToken,
  tokenConcertId,
  type FinishedReason,
  type IssueProof,
  type IssueResult,
  type QueueStore,
  type SaleSchedule,
  type SlotWait,
  type TokenView,
} from "@concert/shared";
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
  /**
   * the general room's service only: the concert rooms, to which issues naming a concert with a
   * room of its own and every room token's polls go (queue/rooms.ts)
   */
  rooms?: RoomResolver;
  /** a concert room's service: called after this service made a new place (the room ticker wakes the room) */
  onIssued?: () => void;
  /** a concert room's scheduled sale (pre-queue, opening, close), if it has one */
  schedule?: () => SaleSchedule | undefined;
}

/** Which queue service answers for a concert, or for a room token (see Rooms). */
export interface RoomResolver {
  /** the concert's own room's service; null for a concert the general room serves; 404 for an unknown concert */
  serviceForConcert(concertId: number): Promise<QueueService | null>;
  /** the service of the room a room token names; null when there is no such room */
  serviceForToken(concertId: number): Promise<QueueService | null>;
}

/** The reasons the scripts record (lower case) as the API names them. */
const REASONS: Record<string, FinishedReason> = {
  paid: "PAID",
  expired: "EXPIRED",
  evicted: "EVICTED",
  cancelled: "CLOSED",
  sold_out: "SOLD_OUT",
  closed: "CLOSED",
};

/**
 * The queue as clients see it: a token, its status, its rank (1 = next in) and the expected
 * wait, computed from the admission rate measured over the last minute and, while the active set
 * is full, from when its tokens end.
 */
export class QueueService {
  /** the concert whose own room this service is (its store's); null: the general room */
  readonly concertId: number | null;

  constructor(
    private readonly store: QueueStore,
    private readonly options: QueueServiceOptions,
  ) {
    this.concertId = store.concertId;
  }

  /**
   * A new place, or the user's live one to a caller with proof it is theirs (else ALREADY_QUEUED).
   * Naming a concert with a room of its own joins that room (one live place per user per room).
   */
  async issueToken(userId: number, proof: IssueProof, concertId?: number): Promise<TokenView> {
    if (concertId !== undefined && this.options.rooms) {
      const room = await this.options.rooms.serviceForConcert(concertId);
      if (room && room !== this) return room.issueToken(userId, proof);
    }
    const schedule = this.options.schedule?.();
    const issued = await this.acknowledgedIssue(userId, this.options.settings().maxActive, proof, schedule).catch((err: unknown) => {
      throw this.withSchedule(err, schedule);
    });
    if (issued.created) this.options.onIssued?.();
    const { token, status, rank, blocked } = issued;
    if (status === "PREQUEUED") return this.prequeued(token, issued.prequeueCount ?? 0, schedule);
    return { token, status, rank, estimatedWaitSec: rank === null ? 0 : this.estimateWait(rank, null, blocked), concertId: this.concertId };
  }

  /** A pre-queued place: WAITING without a rank until the opening's draw, with the opening and the pre-queue's size. */
  private prequeued(token: string, prequeueCount: number, schedule: SaleSchedule | undefined): TokenView {
    return {
      token,
      status: "WAITING",
      rank: null,
      estimatedWaitSec: null,
      concertId: this.concertId,
      ...(schedule && { opensAt: new Date(schedule.opensAt).toISOString() }),
      prequeueCount,
    };
  }

  /** SALE_NOT_OPEN says when the sale (and its pre-queue) opens; SALE_CLOSED when it closed. */
  private withSchedule(err: unknown, schedule: SaleSchedule | undefined): unknown {
    if (!(err instanceof AppError) || !schedule) return err;
    const iso = (ms: number) => new Date(ms).toISOString();
    if (err.code === "SALE_NOT_OPEN") {
      return new AppError(err.code, err.message, { opensAt: iso(schedule.opensAt), prequeueOpensAt: iso(schedule.prequeueFrom) });
    }
    if (err.code === "SALE_CLOSED" && schedule.closesAt !== null)
      return new AppError(err.code, err.message, { closedAt: iso(schedule.closesAt) });
    return err;
  }

  /**
   * The issue, and with REDIS_MIN_REPLICAS_ACK its confirmation by the replicas: a token is only
   * handed out once a failover would keep it. Else 503, and a place this issue made is withdrawn
   * first: the client never got its token, and a place left behind would answer its retry 409
   * ALREADY_QUEUED (it could not present a token it never saw). If the withdrawal does not reach
   * the replicas either, what a failover keeps is a place nobody polls: it lapses after
   * WAITING_IDLE_TTL_SEC.
   */
  private async acknowledgedIssue(userId: number, maxActive: number, proof: IssueProof, schedule?: SaleSchedule): Promise<IssueResult> {
    const acknowledged = this.options.acknowledged;
    if (!acknowledged) return this.store.issue(userId, maxActive, proof, schedule);
    const deadline = acknowledged.acks.deadline();
    const issued = await acknowledged.store.issue(userId, maxActive, proof, schedule);
    try {
      await acknowledged.acks.confirm(deadline);
    } catch (err) {
      if (issued.created) await acknowledged.store.withdraw(userId, issued.token).catch(() => false);
      throw err;
    }
    return issued;
  }

  async tokenView(userId: number, token: string): Promise<TokenView> {
    const room = this.options.rooms && tokenConcertId(token);
    if (room) {
      const service = await this.options.rooms!.serviceForToken(room);
      if (!service) throw new AppError("TOKEN_INVALID", "Unknown queue token");
      return service.tokenView(userId, token);
    }
    const state = await this.store.poll(userId, token, this.options.settings().maxActive).catch((err: unknown) => {
      if (isLostToken(err, token, userId)) this.options.onLostToken?.();
      throw err;
    });
    switch (state.status) {
      case "PREQUEUED":
        return this.prequeued(token, state.prequeueCount, this.options.schedule?.());
      case "WAITING":
        return {
          token,
          status: "WAITING",
          rank: state.rank,
          estimatedWaitSec: this.estimateWait(state.rank, state.ratePerSec, state.blocked),
          concertId: this.concertId,
          // no seat free now: how many are held (they may come back when a hold lapses)
          ...(state.seatsHeld !== undefined && { seatsHeld: state.seatsHeld }),
        };
      case "IN_PROGRESS":
        return { token, status: "IN_PROGRESS", rank: null, estimatedWaitSec: 0, concertId: this.concertId };
      case "FINISHED":
        return {
          token,
          status: "FINISHED",
          rank: null,
          estimatedWaitSec: null,
          concertId: this.concertId,
          reason: REASONS[state.reason] ?? "EXPIRED",
        };
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
