import { z } from "zod";
import {
  DEFAULT_BOOKING_URL,
  DEFAULT_PORTS,
  DEFAULT_SESSION_MAX_SEC,
  admissionSettings,
  httpServerEnv,
  commonEnv,
  intVar,
  isClusterUrl,
  numberVar,
  parseConfig,
  urlListVar,
  withProductionSecrets,
} from "@concert/shared";
import { compileTrust } from "./api/rate-limit";

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
});

/** The gateway's configuration: its variables, by name, as the app uses them. */
export const gatewayConfig = gatewayEnv.superRefine(replicaAcksNeedOnePrimary).transform(withProductionSecrets);

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
