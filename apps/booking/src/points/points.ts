import { AppError } from "@concert/shared";
import { MAX_BALANCE, type PointsRepository } from "../db/points.repository";

export interface BalanceView {
  userId: number;
  point: number;
}

/** Charges `point` (1..maxChargePoint); refuses 409 BALANCE_LIMIT past 2^53 - 1, changing nothing. */
export async function chargePoints(
  points: PointsRepository,
  maxChargePoint: number,
  input: { userId: number; point: number },
): Promise<BalanceView> {
  if (input.point > maxChargePoint) {
    throw new AppError("VALIDATION_FAILED", `point: must be at most ${maxChargePoint}`, { field: "point", max: maxChargePoint });
  }
  const balance = await points.charge(input.userId, input.point, MAX_BALANCE);
  if (balance === null) {
    throw new AppError("BALANCE_LIMIT", `A balance may not exceed ${MAX_BALANCE}`, { max: MAX_BALANCE });
  }
  return { userId: input.userId, point: balance };
}

export async function getBalance(points: PointsRepository, userId: number): Promise<BalanceView> {
  return { userId, point: await points.balance(userId) };
}
