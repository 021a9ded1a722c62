import { createHash, type KeyObject } from "node:crypto";
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { AppError, DependencyError, ID_PATTERN, MAX_ID, type Logger } from "@concert/shared";

/** The realm of every `WWW-Authenticate: Bearer` challenge (RFC 6750 §3). */
export const AUTH_REALM = "concert";

/** 401 AUTH_REQUIRED: no bearer. The challenge names the scheme and realm, no error (RFC 6750 §3.1). */
export function authRequired(): AppError {
  const err = new AppError("AUTH_REQUIRED", "This route needs `Authorization: Bearer <JWT>` from the identity provider");
  err.headers = { "WWW-Authenticate": `Bearer realm="${AUTH_REALM}"` };
  return err;
}

/** 401 AUTH_INVALID: one answer for every reason a bearer is refused (the reason is logged, never answered). */
export function authInvalid(): AppError {
  const err = new AppError("AUTH_INVALID", "The bearer token is not valid");
  err.headers = { "WWW-Authenticate": `Bearer realm="${AUTH_REALM}", error="invalid_token"` };
  return err;
}

export interface JwksOptions {
  url: string;
  /** an unknown `kid` refetches at most once per cooldown; a failed fetch is retried after it */
  cooldownMs: number;
  /** jose refetches a key set older than this */
  cacheMaxAgeMs: number;
  timeoutMs: number;
}

/**
 * What a failed fetch of the key set looks like (connection refused, timeout, not 200, not a
 * JWKS). fetch's own failure is a TypeError, by name (it may come from another realm than ours).
 */
function isFetchFailure(err: unknown): boolean {
  return (
    (err as { name?: unknown } | null)?.name === "TypeError" ||
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    (err instanceof errors.JOSEError && err.code === errors.JOSEError.code)
  );
}

/**
 * jose's remote key set (cached, an unknown `kid` refetches once per cooldown, so rotation needs
 * no restart), made to outlive an outage of the endpoint: jose refetches a set older than its
 * cacheMaxAge and fails when that fetch fails, so on a failed fetch this answers from a local set
 * over the last key set jose loaded, and does not try the endpoint again for a cooldown (no
 * fetch per request while it is down). An unknown key then is refused (401); with no key set ever
 * loaded the identity provider is a dependency that is down (503 with Retry-After).
 */
export function resilientJwks(options: JwksOptions, logger: Logger, now: () => number = Date.now): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(options.url), {
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    timeoutDuration: options.timeoutMs,
  });
  let fallback: ReturnType<typeof createLocalJWKSet> | undefined;
  let retryRemoteAt = 0;
  let lastFailure: unknown;
  return async (header, token) => {
    if (now() >= retryRemoteAt) {
      try {
        const key = await remote(header, token);
        fallback = undefined;
        return key;
      } catch (err) {
        if (!isFetchFailure(err)) throw err;
        lastFailure = err;
        retryRemoteAt = now() + options.cooldownMs;
        const last = remote.jwks();
        fallback = last && createLocalJWKSet(last);
        const cause = err as { message?: unknown; code?: unknown };
        logger.warn(
          { jwks: options.url, err: { message: cause.message, code: cause.code }, lastKeySet: fallback !== undefined },
          "identity provider's key set could not be fetched; answering from the last one loaded",
        );
      }
    }
    if (!fallback) {
      throw new DependencyError("identity", { cause: lastFailure, retryAfterSec: Math.max(1, Math.ceil((retryRemoteAt - now()) / 1000)) });
    }
    return fallback(header, token);
  };
}

export interface VerifierOptions {
  /** where the keys come from: the identity provider's JWKS, or one public key */
  keys: JWTVerifyGetKey | KeyObject;
  issuer: string;
  audience: string;
  /** the claim holding the user id (a positive integer up to MAX_ID, as a number or a decimal string) */
  userClaim: string;
  algorithms: string[];
  clockToleranceSec: number;
  /** verified bearers remembered, at most `size` for at most `maxAgeMs` (never past `exp`); size 0: none */
  cache: { size: number; maxAgeMs: number };
  logger: Logger;
  now?: () => number;
}

/** The user id a claim carries, or null: a positive integer up to MAX_ID, as a JSON number or a decimal string. */
export function userIdOf(claim: unknown): number | null {
  if (typeof claim === "number") return Number.isInteger(claim) && claim >= 1 && claim <= MAX_ID ? claim : null;
  if (typeof claim === "string" && ID_PATTERN.test(claim) && Number(claim) <= MAX_ID) return Number(claim);
  return null;
}

interface Verified {
  userId: number;
  /** ms: the entry is forgotten then (the token's exp, or the cache's max age) */
  until: number;
}

/**
 * A bounded map of verified bearers (by their SHA-256) → user, so the hot poll route (thousands a
 * second) does not verify a signature each time. An entry never outlives its token's `exp` nor
 * the max age (a revoked key stops working within it); when full, the oldest entry goes.
 */
class VerifiedBearers {
  private readonly entries = new Map<string, Verified>();

  constructor(
    private readonly size: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number,
  ) {}

  static keyOf(bearer: string): string {
    return createHash("sha256").update(bearer).digest("base64url");
  }

  get(key: string): number | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    if (hit.until > this.now()) return hit.userId;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, userId: number, expSec: number): void {
    if (this.size === 0) return;
    if (this.entries.size >= this.size) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { userId, until: Math.min(expSec * 1000, this.now() + this.maxAgeMs) });
  }
}

/**
 * Verifies the identity provider's bearer JWTs with jose: signature (asymmetric algorithms only),
 * issuer, audience, exp (required) and nbf with a small clock tolerance; the user id from its claim.
 */
export class BearerVerifier {
  private readonly cache: VerifiedBearers;
  private readonly now: () => number;

  constructor(private readonly options: VerifierOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new VerifiedBearers(options.cache.size, options.cache.maxAgeMs, this.now);
  }

  /** The verified user of a bearer; 401 AUTH_INVALID for any bad token, 503 when no key set could ever be loaded. */
  async verify(bearer: string): Promise<number> {
    const key = VerifiedBearers.keyOf(bearer);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const payload = await this.verifySignature(bearer);
    const userId = userIdOf(payload[this.options.userClaim]);
    if (userId === null) {
      this.options.logger.info({ claim: this.options.userClaim }, "bearer refused: its user claim is not a user id");
      throw authInvalid();
    }
    this.cache.set(key, userId, payload.exp!);
    return userId;
  }

  private async verifySignature(bearer: string): Promise<JWTPayload> {
    const { keys, issuer, audience, algorithms, clockToleranceSec } = this.options;
    const options = {
      issuer,
      audience,
      algorithms,
      clockTolerance: clockToleranceSec,
      requiredClaims: ["exp"],
      currentDate: new Date(this.now()),
    };
    try {
      const { payload } = typeof keys === "function" ? await jwtVerify(bearer, keys, options) : await jwtVerify(bearer, keys, options);
      return payload;
    } catch (err) {
      if (!(err instanceof errors.JOSEError)) throw err; // DependencyError (no key set), or a bug: not the client's fault
      this.options.logger.info({ reason: err.code }, "bearer refused");
      throw authInvalid();
    }
  }
}
