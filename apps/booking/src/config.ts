import { z } from "zod";
import { DEFAULT_DATABASE_URL, DEFAULT_PORTS, commonEnv, intVar, parseConfig, resolvePassportSecret } from "@concert/shared";

/** Booking's environment, parsed once at start (main.ts). No other file reads process.env. */
export const bookingEnv = z.object({
  ...commonEnv,
  PORT: intVar(DEFAULT_PORTS.booking, 0, 65_535),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
    .default(DEFAULT_DATABASE_URL),
  DATABASE_POOL_SIZE: intVar(10, 1, 200),
  SEAT_HOLD_TTL_SEC: intVar(300, 1, 3_600),
  MAX_HOLDS_PER_USER: intVar(4, 1, 50),
  MAX_CHARGE_POINT: intVar(1_000_000, 1, Number.MAX_SAFE_INTEGER),
  SWEEP_INTERVAL_MS: intVar(5_000, 100, 3_600_000),
  /** Redlock nodes: comma-separated independent Redis URLs (default: REDIS_URL alone) */
  REDLOCK_URLS: z
    .string()
    .optional()
    .transform((s) =>
      (s ?? "")
        .split(",")
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^rediss?(\+cluster)?:\/\//, "each must be a redis:// or rediss:// URL"))),
});

export interface BookingConfig {
  port: number;
  databaseUrl: string;
  databasePoolSize: number;
  redisUrl: string;
  logLevel: string;
  passportSecret: string;
  queueName: string;
  paymentReplaySec: number;
  seatHoldTtlSec: number;
  maxHoldsPerUser: number;
  maxChargePoint: number;
  sweepIntervalMs: number;
  /** Redis URLs Redlock locks on (a majority must agree); [redisUrl] unless REDLOCK_URLS is set */
  redlockUrls: string[];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BookingConfig {
  const e = parseConfig(bookingEnv, env);
  return {
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    passportSecret: resolvePassportSecret(e),
    queueName: e.QUEUE_NAME,
    paymentReplaySec: e.PAYMENT_REPLAY_SEC,
    seatHoldTtlSec: e.SEAT_HOLD_TTL_SEC,
    maxHoldsPerUser: e.MAX_HOLDS_PER_USER,
    maxChargePoint: e.MAX_CHARGE_POINT,
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    redlockUrls: e.REDLOCK_URLS.length ? e.REDLOCK_URLS : [e.REDIS_URL],
  };
}
