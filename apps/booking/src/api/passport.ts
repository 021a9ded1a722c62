import { AppError, PASSPORT_HEADER, verifyPassport, type Passport } from "@concert/shared";
import type { RequestHandler, Response } from "express";

/** Every /api request must carry a valid gateway passport: 401 PASSPORT_INVALID otherwise. */
export function requirePassport(secret: string): RequestHandler {
  return (req, res, next) => {
    const passport = verifyPassport(secret, req.header(PASSPORT_HEADER));
    res.locals.passport = passport;
    res.locals.userId = passport.userId;
    next();
  };
}

export function passportOf(res: Response): Passport {
  return res.locals.passport as Passport;
}

/** When the gateway vouched for a user, a userId in the request must be that user. */
export function assertPassportUser(passport: Passport, userId: number): void {
  if (passport.userId !== undefined && passport.userId !== userId) {
    throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the user of the queue token", { field: "userId" });
  }
}

/** A token already finished by its payment only gets through for payment retries. */
export function assertLiveToken(passport: Passport): void {
  if (passport.replay) throw new AppError("TOKEN_NOT_ACTIVE", "This queue token was used by a payment; queue again");
}
