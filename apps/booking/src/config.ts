import { z } from "zod";
import {
  DEFAULT_DATABASE_URL,
  DEFAULT_MAX_HOLDS_PER_USER,
  MAX_SEATS_PER_HOLD,
  DEFAULT_PORTS,
  commonEnv,
  httpServerEnv,
  intVar,
  parseConfig,
  redisUrlListVar,
  withProductionSecrets,
} from "@concert/shared";

/**
 * Booking's variables (docker-compose.yml gives each instance exactly these), parsed once at
 * start (main.ts; the seed reads DATABASE_URL through the same schema). No other file reads
 * process.env.
 */
export const bookingEnv = z.object({
  ...commonEnv,
  PORT: intVar(DEFAULT_PORTS.booking, 0, 65_535),
  /** the interface to listen on: loopback unless set, so only what runs beside it (the gateway) reaches booking */
  HOST: z.string().min(1).default("127.0.0.1"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
    .default(DEFAULT_DATABASE_URL),
  DATABASE_POOL_SIZE: intVar(10, 1, 200),
  SEAT_HOLD_TTL_SEC: intVar(300, 1, 3_600),
  MAX_HOLDS_PER_USER: intVar(DEFAULT_MAX_HOLDS_PER_USER, 1, MAX_SEATS_PER_HOLD),
  MAX_CHARGE_POINT: intVar(1_000_000, 1, Number.MAX_SAFE_INTEGER),
  /** a paid seat can be cancelled (and refunded) until this long before its performance starts; at most a year */
  CANCEL_DEADLINE_SEC: intVar(86_400, 0, 31_536_000),
  SWEEP_INTERVAL_MS: intVar(5_000, 100, 3_600_000),
  /** Redlock nodes: comma-separated independent Redis URLs, any form REDIS_URL takes (default: REDIS_URL alone) */
  REDLOCK_URLS: redisUrlListVar,
  ...httpServerEnv,
});

/** Booking's configuration: its variables, by name, as the app uses them. */
export const bookingConfig = bookingEnv.transform(withProductionSecrets).transform((e) => ({
  ...e,
  // the Redis URLs Redlock locks on (a majority must agree)
  REDLOCK_URLS: e.REDLOCK_URLS.length ? e.REDLOCK_URLS : [e.REDIS_URL],
}));

export type BookingConfig = z.output<typeof bookingConfig>;

/** Reads booking's environment once; throws ConfigError naming any bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): BookingConfig {
  return parseConfig(bookingConfig, env);
}
