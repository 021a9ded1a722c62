import type { IncomingMessage } from "node:http";
import { AppError, PASSPORT_HEADER, bodyDigest, verifyPassport, type Passport } from "@concert/shared";
import type { RequestHandler, Response } from "express";

const NO_BODY = bodyDigest();
// the digest of each request's body bytes, taken while express.json reads them (no copy kept)
const bodyDigests = new WeakMap<IncomingMessage, string>();

/**
 * express.json's `verify` hook: digests the exact bytes it is about to parse, so the passport is
 * checked against the body booking acts on, not a re-serialisation of it.
 */
export function digestBody(req: IncomingMessage, _res: unknown, bytes: Buffer): void {
  bodyDigests.set(req, bodyDigest(bytes));
}

/**
 * Every /api request must carry a valid gateway passport made for this very request (method,
 * path and query, body bytes; a request whose body express.json does not read counts as having
 * none): 401 PASSPORT_INVALID otherwise.
 */
export function requirePassport(secret: string): RequestHandler {
  return (req, res, next) => {
    const request = { method: req.method, path: req.originalUrl, bodyDigest: bodyDigests.get(req) ?? NO_BODY };
    const passport = verifyPassport(secret, req.header(PASSPORT_HEADER), request);
    res.locals.passport = passport;
    res.locals.userId = passport.userId;
    next();
  };
}

export function passportOf(res: Response): Passport {
  return res.locals.passport as Passport;
}

/** Every user id the request names must be the user the gateway vouched for. */
export function assertPassportUsers(passport: Passport, userIds: number[]): void {
  if (userIds.some((id) => id !== passport.userId)) {
    throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the user the gateway vouched for", { field: "userId" });
  }
}

/** A token already finished by its payment only gets through for payment retries. */
export function assertLiveToken(passport: Passport): void {
  if (passport.replay) throw new AppError("TOKEN_NOT_ACTIVE", "This queue token was used by a payment; queue again");
}
