import { z } from "zod";
import { DEFAULT_REDIS_URL } from "./defaults";

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** An integer environment variable with bounds and a default. */
export const intVar = (def: number, min = 1, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

/** A numeric environment variable checked by a schema that also serves elsewhere (e.g. `admissionSettings`). */
export const numberVar = (schema: z.ZodNumber, def: number) => z.coerce.number().pipe(schema).default(def);

export const redisUrlVar = z
  .string()
  .regex(/^rediss?(\+cluster)?:\/\//, "must be a redis://, rediss:// or redis+cluster://host:port,host:port URL")
  .default(DEFAULT_REDIS_URL);

/** The variables both apps read. */
export const commonEnv = {
  NODE_ENV: z.enum(["development", "production", "test"]).default("production"),
  REDIS_URL: redisUrlVar,
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  PASSPORT_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  QUEUE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "letters, digits, - and _ only")
    .default("main"),
  PAYMENT_REPLAY_SEC: intVar(300, 0, 86_400),
};

/** Used only when NODE_ENV=development or test and PASSPORT_SECRET is unset. */
export const DEV_PASSPORT_SECRET = "dev-only-passport-secret-change-me";

/**
 * Parses the environment once, at start. A bad value throws a ConfigError whose message names
 * every offending variable; main() prints it and exits 1.
 */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data;
}

/** PASSPORT_SECRET is required outside development and test. */
export function resolvePassportSecret(env: { NODE_ENV: string; PASSPORT_SECRET?: string }): string {
  if (env.PASSPORT_SECRET) return env.PASSPORT_SECRET;
  if (env.NODE_ENV === "development" || env.NODE_ENV === "test") return DEV_PASSPORT_SECRET;
  throw new ConfigError(
    "Invalid configuration:\n  PASSPORT_SECRET: required when NODE_ENV is production (set the same secret, 16+ characters, on gateway and booking; or set NODE_ENV=development)",
  );
}

/** Splits a comma-separated list of URLs and checks each. */
export const urlListVar = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s) =>
      s
        .split(",")
        .map((u) => u.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().url("must be a URL")).min(1, "needs at least one URL"));
