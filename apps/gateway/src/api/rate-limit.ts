import type { RequestHandler } from "express";
import { rateLimit } from "express-rate-limit";
import { RedisStore, type RedisReply } from "rate-limit-redis";
import { Cluster, type Redis } from "ioredis";
import { AppError } from "@concert/shared";

export interface TokenRateLimitOptions {
  /** most token requests one client may make per window; 0 turns the limit off */
  limit: number;
  windowSec: number;
  /** Redis key prefix (the limit is shared by every gateway instance through Redis) */
  prefix: string;
}

/**
 * Limits token issuance per client IP with express-rate-limit and a Redis store, so the limit
 * holds across gateway instances. Over the limit: 429 RATE_LIMITED with Retry-After.
 */
export function tokenRateLimit(redis: Redis | Cluster, options: TokenRateLimitOptions): RequestHandler {
  if (options.limit === 0) return (_req, _res, next) => next();
  return rateLimit({
    windowMs: options.windowSec * 1000,
    limit: options.limit,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    store: new RedisStore({
      prefix: options.prefix,
      sendCommand: (command: string, ...args: string[]) => {
        // On a Redis Cluster a keyless SCRIPT LOAD lands on a random master, and the EVALSHA of
        // the counter's key then fails with NOSCRIPT on another: load the scripts on every master.
        if (redis instanceof Cluster && command.toUpperCase() === "SCRIPT" && String(args[0]).toUpperCase() === "LOAD") {
          return Promise.all(redis.nodes("master").map((node) => node.call(command, ...args))).then((shas) => shas[0] as RedisReply);
        }
        return redis.call(command, ...args) as Promise<RedisReply>;
      },
    }),
    handler: (_req, _res, next, opts) => {
      next(new AppError("RATE_LIMITED", `Too many token requests; at most ${opts.limit} per ${options.windowSec}s`));
    },
  });
}
