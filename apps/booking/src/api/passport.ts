import type { IncomingMessage } from "node:http";
import type { Cluster, Redis } from "ioredis";
import { AppError, PASSPORT_HEADER, bodyDigest, redisCall, verifyPassport, type Passport } from "@concert/shared";
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
    const passport = checkPassport(secret, req.header(PASSPORT_HEADER), req.method, req.originalUrl, bodyDigests.get(req) ?? NO_BODY);
    res.locals.passport = passport;
    res.locals.userId = passport.userId;
    next();
  };
}

/** The passport of a request with this method, URL (path and query) and body digest, or 401 PASSPORT_INVALID. */
export function checkPassport(secret: string, header: unknown, method: string, url: string, digest: string = NO_BODY): Passport {
  return verifyPassport(secret, header, { method, path: url, bodyDigest: digest });
}

const READS = new Set(["GET", "HEAD"]);

/**
 * A passport for a write is good once: its nonce is marked in Redis (`<keyPrefix>:passport:<nonce>`,
 * on every booking instance's shared Redis) until the passport expires, and a second use is 401
 * PASSPORT_INVALID, so not even the exact request a captured passport was made for (a charge, say)
 * can be sent twice. Reads change nothing, so they skip the round trip. Redis down: 503.
 * The mark is awaited here, except for a route that marks its passport in its handler
 * (`inHandler`, from the route table: routes.ts marksPassportInHandler), which gets it pending in
 * `res.locals.passportMark` (routes.ts runRoute settles it before answering).
 */
export function passportOnce(
  redis: Redis | Cluster,
  keyPrefix: string,
  inHandler: (method: string, path: string) => boolean,
  now: () => number = Date.now,
): RequestHandler {
  return async (req, res, next) => {
    if (isRead(req.method)) return next();
    const mark = markPassportUsed(redis, keyPrefix, passportOf(res), now);
    res.locals.passportMark = mark;
    mark.catch(() => {}); // whoever awaits it (here, or runRoute) reads its outcome
    if (!inHandler(req.method, req.baseUrl + req.path)) await mark;
    next();
  };
}

/** The write's passport mark passportOnce sent (undefined for a read). */
export function passportMarkOf(res: Response): Promise<void> | undefined {
  return res.locals.passportMark as Promise<void> | undefined;
}

/** Whether a request of this method only reads (its passport may be used again). */
export const isRead = (method: string): boolean => READS.has(method);

/** Marks a write's passport used, or 401 PASSPORT_INVALID when it already was (see {@link passportOnce}). */
export async function markPassportUsed(
  redis: Redis | Cluster,
  keyPrefix: string,
  passport: Passport,
  now: () => number = Date.now,
): Promise<void> {
  const ttlMs = Math.max(1, passport.exp - now());
  const first = await redisCall(redis.set(`${keyPrefix}:passport:${passport.nonce}`, "1", "PX", ttlMs, "NX"));
  if (first === null) throw new AppError("PASSPORT_INVALID", "Missing or invalid passport: already used");
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
