import { AppError, type Logger, type QueueTokens } from "@concert/shared";
import type { PaymentsRepository } from "../db/payments.repository";
import type { SeatChanges } from "../seat-changes";
import { UniqueViolation } from "../db/postgres-errors";
import { paymentRequest, replayOrConflict, settled, type PayInput, type PaymentRequest, type PaymentResult } from "./decide-payment";

export type { PayInput, PaymentResult } from "./decide-payment";

export interface PayDeps {
  payments: PaymentsRepository;
  queueStore: QueueTokens;
  logger: Logger;
  /** every read model of seat state (seat-changes.ts), told once after every committed change */
  seatChanges?: SeatChanges;
}

export type PaymentView = Omit<PaymentResult, "replayed" | "sold">;

/**
 * Pays the user's holds in one transaction (the rules: decidePayment), then finishes the user's
 * queue token. The payment is committed before Redis is touched: if finishing the token fails,
 * the payment stands and the token simply expires on its own.
 */
export async function payReservations(
  deps: PayDeps,
  input: PayInput & { queueToken?: string; /** the caller's deadline (ms since epoch): nothing commits after it */ deadline?: number },
): Promise<PaymentView> {
  const request = paymentRequest(input);
  const { replayed, sold, ...result } = request.replayOnly
    ? await replayOnly(deps, request)
    : await payOrReplay(deps, request, input.deadline);
  // both at once: their Redis commands share one round trip (auto-pipelining)
  await Promise.all([
    sold && deps.seatChanges?.changed(sold.map((s) => ({ ...s, to: { state: "SOLD" } }))),
    input.queueToken &&
      deps.queueStore.finish(input.queueToken, "paid").catch((err: unknown) => {
        deps.logger.warn({ err, paymentId: result.paymentId }, "payment committed, but finishing the queue token failed");
      }),
  ]);
  if (replayed) deps.logger.info({ paymentId: result.paymentId }, "idempotent payment replayed");
  return result;
}

/** In the replay window only the stored answer of the payment that finished the token may come back. */
async function replayOnly(deps: PayDeps, request: PaymentRequest): Promise<PaymentResult> {
  const earlier = request.idempotencyKey ? await deps.payments.findByKey(request.userId, request.idempotencyKey) : null;
  if (!earlier) throw new AppError("TOKEN_INVALID", "This queue token was used for a payment; queue again to pay anything else");
  return settled(replayOrConflict(request, earlier));
}

async function payOrReplay(deps: PayDeps, request: PaymentRequest, deadline: number | undefined): Promise<PaymentResult> {
  try {
    return await deps.payments.pay(request, deadline);
  } catch (err) {
    // Two requests with one key for different reservations: the loser trips the unique index.
    if (request.idempotencyKey && err instanceof UniqueViolation) {
      const earlier = await deps.payments.findByKey(request.userId, request.idempotencyKey);
      if (earlier) return settled(replayOrConflict(request, earlier));
    }
    throw err;
  }
}
