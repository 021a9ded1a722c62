import type { Logger, QueueTokens } from "@concert/shared";
import type { PayInput, PaymentResult, PaymentsRepository } from "../db/payments.repository";

export interface PayDeps {
  payments: PaymentsRepository;
  queueStore: QueueTokens;
  logger: Logger;
}

export type PaymentView = Omit<PaymentResult, "replayed">;

/**
 * Pays the user's holds in one transaction (see PaymentsRepository.pay), then finishes the
 * user's queue token. The payment is committed before Redis is touched: if finishing the token
 * fails, the payment stands and the token simply expires on its own.
 */
export async function payReservations(deps: PayDeps, input: PayInput & { tokenId?: string }): Promise<PaymentView> {
  const { replayed, ...result } = await deps.payments.pay(input);
  if (input.tokenId) {
    await deps.queueStore.finish(input.tokenId, "paid").catch((err: unknown) => {
      deps.logger.warn({ err, paymentId: result.paymentId }, "payment committed, but finishing the queue token failed");
    });
  }
  if (replayed) deps.logger.info({ paymentId: result.paymentId }, "idempotent payment replayed");
  return result;
}
