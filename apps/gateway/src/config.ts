import { createPublicKey, type KeyObject } from "node:crypto";
import { z } from "zod";
import {
  DEFAULT_BOOKING_URL,
  DEFAULT_PORTS,
  DEFAULT_SESSION_MAX_SEC,
  admissionSettings,
  httpServerEnv,
  commonEnv,
  intVar,
  listVar,
  isClusterUrl,
  numberVar,
  parseConfig,
  urlListVar,
  withProductionSecrets,
} from "@concert/shared";
import { compileTrust } from "./api/rate-limit";

/**
 * The JWT signature algorithms AUTH_ALGORITHMS may name: asymmetric ones only. An HS* key is a
 * shared secret (and the classic confusion attack signs with the public key as that secret);
 * `none` is no signature at all.
 */
export const ASYMMETRIC_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

/** An optional variable: unset and empty (compose's `${VAR:-}`) both mean "not given". */
const optionalVar = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

/** Issuer, audience, claim name: a value without blanks around it (a stray space never matches a token's claim). */
const trimmedText = z.string().regex(/^\S(.*\S)?$/, "must not be blank or start or end with a space");

/**
 * AUTH_PUBLIC_KEY: an SPKI PEM ("-----BEGIN PUBLIC KEY-----"), with real newlines or `\n`
 * escapes (one-line env files), compiled once into the key the verifier uses. A private key is
 * refused: it has no business in the gateway's environment.
 */
const publicKeyVar = z.string().transform((v, ctx): KeyObject => {
  const pem = v.replace(/\\n/g, "\n");
  if (/PRIVATE KEY/.test(pem)) {
    ctx.addIssue({ code: "custom", message: "is a private key; give the identity provider's public key (-----BEGIN PUBLIC KEY-----)" });
    return z.NEVER;
  }
  try {
    return createPublicKey({ key: pem, format: "pem" });
  } catch {
    ctx.addIssue({ code: "custom", message: "is not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)" });
    return z.NEVER;
  }
});

const algorithmList = z.array(
  z.string().refine((a): a is (typeof ASYMMETRIC_ALGORITHMS)[number] => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(a), {
    message: `only asymmetric algorithms (${ASYMMETRIC_ALGORITHMS.join(", ")}); never HS* or none`,
  }),
);

/** The AUTH_* variables (README "Verified users (AUTH_MODE)"); {@link withAuthMode} checks how they combine. */
function authEnv() {
  return {
    /** none: user ids are taken from the request (development, the seed's API); jwt: from the verified bearer */
    AUTH_MODE: optionalVar(z.enum(["none", "jwt"])),
    AUTH_JWKS_URL: optionalVar(z.string().url("must be a URL (the identity provider's JWKS, e.g. https://idp/.well-known/jwks.json)")),
    AUTH_PUBLIC_KEY: optionalVar(publicKeyVar),
    AUTH_ISSUER: optionalVar(trimmedText),
    AUTH_AUDIENCE: optionalVar(trimmedText),
    AUTH_USER_CLAIM: trimmedText.default("sub"),
    AUTH_ALGORITHMS: listVar(algorithmList.min(1, "needs at least one algorithm"), "RS256,ES256,EdDSA"),
    AUTH_CLOCK_TOLERANCE_SEC: intVar(5, 0, 300),
    /** an unknown `kid` refetches the JWKS at most once per this many seconds (and a failed fetch is retried after it) */
    AUTH_JWKS_COOLDOWN_SEC: intVar(30, 0, 3_600),
    /** the JWKS is refetched when older than this (while the endpoint is down, the last one loaded keeps working) */
    AUTH_JWKS_CACHE_MAX_AGE_SEC: intVar(600, 1, 86_400),
    AUTH_JWKS_TIMEOUT_MS: intVar(5_000, 100, 60_000),
    /** verified bearers remembered per instance (so a poll does not verify a signature again); 0 turns the cache off */
    AUTH_CACHE_SIZE: intVar(100_000, 0, 10_000_000),
    /** longest a verified bearer is remembered (never past its `exp`) */
    AUTH_CACHE_MAX_AGE_SEC: intVar(60, 1, 3_600),
  };
}

/**
 * How the AUTH_* variables combine: in production AUTH_MODE must be given (no silent trust of
 * client-named users); jwt needs exactly one key source, an issuer and an audience.
 */
function withAuthMode<E extends z.output<z.ZodObject<ReturnType<typeof authEnv>>> & { NODE_ENV: string }>(
  env: E,
  ctx: z.RefinementCtx,
): Omit<E, "AUTH_MODE"> & { AUTH_MODE: "none" | "jwt" } {
  const issue = (variable: string, message: string) => ctx.addIssue({ code: "custom", path: [variable], message });
  const mode = env.AUTH_MODE ?? (env.NODE_ENV === "production" ? undefined : "none");
  if (mode === undefined)
    issue("AUTH_MODE", "required when NODE_ENV is production: jwt (verified users) or none (user ids trusted from the client)");
  if (mode === "jwt") {
    if ((env.AUTH_JWKS_URL === undefined) === (env.AUTH_PUBLIC_KEY === undefined))
      issue(
        env.AUTH_JWKS_URL === undefined ? "AUTH_JWKS_URL" : "AUTH_PUBLIC_KEY",
        "AUTH_MODE=jwt needs exactly one of AUTH_JWKS_URL and AUTH_PUBLIC_KEY",
      );
    if (env.AUTH_ISSUER === undefined) issue("AUTH_ISSUER", "required when AUTH_MODE=jwt (the identity provider's `iss`)");
    if (env.AUTH_AUDIENCE === undefined) issue("AUTH_AUDIENCE", "required when AUTH_MODE=jwt (the `aud` its tokens carry for this API)");
  }
  return { ...env, AUTH_MODE: mode ?? "none" };
}

/** The gateway's variables (docker-compose.yml gives each instance exactly these). */
export const gatewayEnv = z.object({
  ...commonEnv,
  PORT: intVar(DEFAULT_PORTS.gateway, 0, 65535),
  HOST: z.string().min(1).default("0.0.0.0"),
  BOOKING_URL: urlListVar(DEFAULT_BOOKING_URL),
  BOOKING_TIMEOUT_MS: intVar(10_000, 100, 120_000),
  QUEUE_ADMIT_BATCH: numberVar(admissionSettings.shape.batch, 100),
  QUEUE_TICK_MS: numberVar(admissionSettings.shape.tickMs, 1000),
  QUEUE_MAX_ACTIVE: numberVar(admissionSettings.shape.maxActive, 1000),
  ACTIVE_TOKEN_TTL_SEC: intVar(600, 1, 86_400),
  ACTIVE_SESSION_MAX_SEC: intVar(DEFAULT_SESSION_MAX_SEC, 1, 86_400),
  WAITING_IDLE_TTL_SEC: intVar(120, 1, 86_400),
  PASSPORT_TTL_SEC: intVar(30, 1, 600),
  TOKEN_RATE_LIMIT: intVar(120, 0, 1_000_000),
  TOKEN_RATE_WINDOW_SEC: intVar(60, 1, 86_400),
  /** AUTH_MODE=jwt: token requests one verified user may make per TOKEN_RATE_WINDOW_SEC, across instances; 0 turns it off */
  TOKEN_RATE_LIMIT_PER_USER: intVar(30, 0, 1_000_000),
  /** compiled here, once, into the function Express and the rate limiter both take */
  TRUST_PROXY: z
    .string()
    .default("false")
    .transform((v, ctx) => {
      try {
        return compileTrust(v);
      } catch (err) {
        ctx.addIssue({
          code: "custom",
          message: `${(err as Error).message} (give true, false, a hop count, or comma-separated addresses/subnets)`,
        });
        return z.NEVER;
      }
    }),
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  ADMISSION_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** answer the seat map and dates from booking's read model in Redis (false: forward every one to booking) */
  SEAT_MAP_READS: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true"),
  /** seat holds one client address may start per HOLD_RATE_WINDOW_SEC, across instances; 0 turns it off */
  HOLD_RATE_LIMIT: intVar(30, 0, 1_000_000),
  HOLD_RATE_WINDOW_SEC: intVar(60, 1, 86_400),
  /** live holds one client address may have at once, across instances; 0 turns the cap off */
  MAX_HOLDS_PER_CLIENT: intVar(8, 0, 10_000),
  ...httpServerEnv,
  SSE_MAX_PER_TOKEN: intVar(3, 1, 1_000),
  SSE_MAX_PER_CLIENT: intVar(20, 1, 1_000_000),
  SSE_MAX_STREAMS: intVar(10_000, 1, 1_000_000),
  SSE_FD_RESERVE: intVar(1_024, 0, 1_000_000),
  /** a token issue is answered only once this many replicas have it (Redis WAIT); 0 = once the primary has it */
  REDIS_MIN_REPLICAS_ACK: intVar(0, 0, 16),
  /** how long one WAIT for those replicas may block before the issue is answered 503 */
  REDIS_REPLICA_ACK_TIMEOUT_MS: intVar(500, 10, 1_500),
  ...authEnv(),
});

/** The gateway's configuration: its variables, by name, as the app uses them. */
export const gatewayConfig = gatewayEnv
  .superRefine(replicaAcksNeedOnePrimary)
  .transform((env, ctx) => withProductionSecrets(withAuthMode(env, ctx), ctx));

/** WAIT counts the replicas of the one server it runs on: a Redis Cluster client has no such one server. */
function replicaAcksNeedOnePrimary(env: { REDIS_URL: string; REDIS_MIN_REPLICAS_ACK: number }, ctx: z.RefinementCtx): void {
  if (env.REDIS_MIN_REPLICAS_ACK > 0 && isClusterUrl(env.REDIS_URL))
    ctx.addIssue({
      code: "custom",
      path: ["REDIS_MIN_REPLICAS_ACK"],
      message: "needs REDIS_URL to name one primary (redis:// or redis+sentinel://), not a redis+cluster:// URL",
    });
}

export type GatewayConfig = z.output<typeof gatewayConfig>;

/** Reads the gateway's environment once; throws ConfigError naming any bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseConfig(gatewayConfig, env);
}
