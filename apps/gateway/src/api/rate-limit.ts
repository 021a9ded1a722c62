import type { IncomingMessage } from "node:http";
import type { RequestHandler } from "express";
import proxyaddr from "proxy-addr";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import type { Cluster, Redis } from "ioredis";
import { AppError, redisCall } from "@concert/shared";

export interface ClientRateLimitOptions {
  /** most requests one client may make per window; 0 turns the limit off */
  limit: number;
  windowSec: number;
  /** Redis key prefix (the limit is shared by every gateway instance through Redis) */
  prefix: string;
  /** what is counted, for the refusal's message (default "token requests") */
  what?: string;
}

/**
 * Limits one kind of request per client IP (or per any key, e.g. the verified user) (rate-limiter-flexible, fixed window in Redis, so the
 * limit holds across gateway instances): token issuance, seat holds. Over the limit: 429
 * RATE_LIMITED with Retry-After. Plain node:http requests are enough (the hot route serves token
 * issuance without Express).
 */
export class ClientRateLimiter {
  private readonly limiter: RateLimiterRedis | null;

  constructor(
    redis: Redis | Cluster,
    private readonly options: ClientRateLimitOptions,
    private readonly clientIp: (req: IncomingMessage) => string,
  ) {
    this.limiter =
      options.limit === 0
        ? null
        : new RateLimiterRedis({ storeClient: redis, keyPrefix: options.prefix, points: options.limit, duration: options.windowSec });
  }

  /** Counts one request of the client; throws AppError RATE_LIMITED past the limit. */
  consume(req: IncomingMessage): Promise<void> {
    return this.consumeKey(this.clientIp(req));
  }

  /** Counts one request under any key (e.g. a verified user's id, for the per-user limit); RATE_LIMITED past the limit. */
  async consumeKey(key: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await redisCall(this.limiter.consume(key));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err; // Redis down (a DependencyError): a 503 like any other Redis failure
      const what = this.options.what ?? "token requests";
      const refusal = new AppError("RATE_LIMITED", `Too many ${what}; at most ${this.options.limit} per ${this.options.windowSec}s`);
      refusal.retryAfterSec = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      throw refusal;
    }
  }

  /** The same limit as Express middleware. */
  middleware(): RequestHandler {
    return (req, _res, next) => {
      if (!this.limiter) return next();
      this.consume(req).then(() => next(), next);
    };
  }
}

/** Which X-Forwarded-For hops to believe: what Express's "trust proxy" setting and proxy-addr both take. */
export type TrustProxy = (addr: string, hop: number) => boolean;

/** TRUST_PROXY=true: every X-Forwarded-For hop is believed (main.ts warns about it). */
export const TRUST_EVERY_HOP: TrustProxy = () => true;

/** The client's address under the compiled TRUST_PROXY, from X-Forwarded-For through proxy-addr. */
export function clientIpResolver(trust: TrustProxy): (req: IncomingMessage) => string {
  return (req) => proxyaddr(req, trust);
}

/**
 * TRUST_PROXY ("false", "true", a hop count, or addresses/subnets: Express's forms, compiled the
 * way Express compiles them) as a TrustProxy. Throws proxy-addr's error on a bad address.
 */
export function compileTrust(v = "false"): TrustProxy {
  if (v === "true") return TRUST_EVERY_HOP;
  if (v === "false") return () => false;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    return (_addr, hop) => hop < hops;
  }
  return proxyaddr.compile(v.split(",").map((s) => s.trim()));
}
