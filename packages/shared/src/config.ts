import { z } from "zod";
import { DEFAULT_REDIS_URL } from "./defaults";

// Each app's configuration is one zod schema over its environment, keyed by the variable names
// (the names the README, docker-compose.yml and the operator use are the names the code reads),
// whose output type is the app's config type. Values that need compiling or combining (a list,
// the trust-proxy function, the passport secret) are produced by the schema itself, so a bad
// value is reported at start under its variable's name, and each is worked out once.

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

/** One Redis URL: REDIS_URL, or one node of REDLOCK_URLS (see createRedis for the forms). */
export const redisUrl = z
  .string()
  .regex(
    /^rediss?(\+cluster:\/\/|\+sentinel:\/\/[^/]+\/[^/?]+|:\/\/)/,
    "must be a redis://, rediss://, redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/<masterName> URL",
  );

export const redisUrlVar = redisUrl.default(DEFAULT_REDIS_URL);

const splitList = (s: string) =>
  s
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

/** A comma-separated list, checked item by item by `list` (an issue names the variable and the item's index). */
export const listVar = <T extends z.ZodType<unknown, string[]>>(list: T, def = "") =>
  z.string().default(def).transform(splitList).pipe(list);

/**
 * A comma-separated list of Redis URLs (REDLOCK_URLS). A URL naming several hosts (cluster seeds,
 * sentinels) has commas of its own: a piece without a scheme after one continues it.
 */
function splitRedisUrls(s: string): string[] {
  const urls: string[] = [];
  for (const piece of splitList(s)) {
    const last = urls.length - 1;
    if (last >= 0 && !piece.includes("://") && /^rediss?\+(cluster|sentinel):\/\//.test(urls[last])) urls[last] += `,${piece}`;
    else urls.push(piece);
  }
  return urls;
}

export const redisUrlListVar = z.string().default("").transform(splitRedisUrls).pipe(z.array(redisUrl));

/** A comma-separated list of URLs, at least one. */
export const urlListVar = (def: string) => listVar(z.array(z.string().url("must be a URL")).min(1, "needs at least one URL"), def);

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
  /** when set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>` */
  METRICS_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  /** when set, /metrics is served on this port alone (and not on PORT) */
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
};

/** Used only when NODE_ENV=development or test and PASSPORT_SECRET is unset. */
export const DEV_PASSPORT_SECRET = "dev-only-passport-secret-change-me";

/**
 * The last step of each app's schema (`.transform(withProductionSecrets)`). Outside development and
 * test, PASSPORT_SECRET and METRICS_TOKEN are required (in development DEV_PASSPORT_SECRET stands in
 * for the first, and /metrics is open without the second). The development secret is public (it is
 * in this file), so production refuses it even when given.
 */
export function withProductionSecrets<E extends { NODE_ENV: string; PASSPORT_SECRET?: string; METRICS_TOKEN?: string }>(
  env: E,
  ctx: z.RefinementCtx,
): Omit<E, "PASSPORT_SECRET"> & { PASSPORT_SECRET: string } {
  const dev = env.NODE_ENV === "development" || env.NODE_ENV === "test";
  const secret = env.PASSPORT_SECRET ?? (dev ? DEV_PASSPORT_SECRET : undefined);
  let refused = false;
  const issue = (variable: string, message: string) => {
    refused = true;
    ctx.addIssue({ code: "custom", path: [variable], message });
  };
  if (secret === undefined)
    issue(
      "PASSPORT_SECRET",
      "required when NODE_ENV is production (set the same secret, 16+ characters, on gateway and booking; or set NODE_ENV=development)",
    );
  else if (!dev && secret === DEV_PASSPORT_SECRET)
    issue(
      "PASSPORT_SECRET",
      "is the built-in development secret, which anyone can read; set a secret of your own when NODE_ENV is production",
    );
  if (!dev && env.METRICS_TOKEN === undefined)
    issue("METRICS_TOKEN", "required when NODE_ENV is production (16+ characters; Prometheus sends it as `Authorization: Bearer <token>`)");
  if (refused || secret === undefined) return z.NEVER;
  return { ...env, PASSPORT_SECRET: secret };
}

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
