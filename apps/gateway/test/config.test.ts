import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { DEFAULT_BOOKING_URL, DEFAULT_PORTS, DEFAULT_REDIS_URL, DEV_PASSPORT_SECRET, admissionSettings } from "@concert/shared";
import { configRefusal, runEntryPoint } from "@concert/test-support";
import { gatewayEnv, loadConfig } from "../src/config";

// Unit tests of the gateway's config schema: no Redis, no server (but the last test starts the
// built main.js, which exits before it connects to anything).
const base = { NODE_ENV: "test" };

/** The message loadConfig throws for this environment (fails the test when it does not throw). */
const refusal = (env: Record<string, string>) => configRefusal(loadConfig, { ...base, ...env });

/** One value each variable refuses: a new variable needs one here (the first test checks). */
const badValues: Record<keyof typeof gatewayEnv.shape, string> = {
  NODE_ENV: "staging",
  REDIS_URL: "http://127.0.0.1:6379",
  LOG_LEVEL: "verbose",
  PASSPORT_SECRET: "short",
  QUEUE_NAME: "main queue",
  PAYMENT_REPLAY_SEC: "-1",
  METRICS_TOKEN: "short",
  METRICS_PORT: "65536",
  PORT: "65536",
  HOST: "",
  BOOKING_URL: "http://127.0.0.1:3001,not a url",
  BOOKING_TIMEOUT_MS: "ten",
  QUEUE_ADMIT_BATCH: "0",
  QUEUE_TICK_MS: "1.5",
  QUEUE_MAX_ACTIVE: "10000001",
  ACTIVE_TOKEN_TTL_SEC: "0",
  ACTIVE_SESSION_MAX_SEC: "86401",
  WAITING_IDLE_TTL_SEC: "86401",
  PASSPORT_TTL_SEC: "601",
  TOKEN_RATE_LIMIT: "-5",
  TOKEN_RATE_WINDOW_SEC: "x",
  TRUST_PROXY: "10.0.0.x",
  ADMIN_TOKEN: "short",
  ADMISSION_ENABLED: "yes",
  SEAT_MAP_READS: "on",
  HOLD_RATE_LIMIT: "-1",
  HOLD_RATE_WINDOW_SEC: "0",
  MAX_HOLDS_PER_CLIENT: "10001",
  HTTP_HEADERS_TIMEOUT_MS: "99",
  HTTP_REQUEST_TIMEOUT_MS: "600001",
  HTTP_KEEPALIVE_TIMEOUT_MS: "5s",
  HTTP_IDLE_TIMEOUT_MS: "0",
  SSE_MAX_PER_TOKEN: "0",
  SSE_MAX_PER_CLIENT: "1.5",
  SSE_MAX_STREAMS: "-1",
  REDIS_MIN_REPLICAS_ACK: "-1",
  REDIS_REPLICA_ACK_TIMEOUT_MS: "5000",
  SSE_FD_RESERVE: "x",
  TOKEN_RATE_LIMIT_PER_USER: "-1",
  AUTH_MODE: "oauth",
  AUTH_JWKS_URL: "idp.example/jwks.json",
  AUTH_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nnot a key\\n-----END PUBLIC KEY-----",
  AUTH_ISSUER: " https://idp.example/",
  AUTH_AUDIENCE: "concert ",
  AUTH_USER_CLAIM: " ",
  AUTH_ALGORITHMS: "RS256,HS256",
  AUTH_CLOCK_TOLERANCE_SEC: "301",
  AUTH_JWKS_COOLDOWN_SEC: "-1",
  AUTH_JWKS_CACHE_MAX_AGE_SEC: "0",
  AUTH_JWKS_TIMEOUT_MS: "99",
  AUTH_CACHE_SIZE: "-1",
  AUTH_CACHE_MAX_AGE_SEC: "3601",
};

describe("gateway configuration", () => {
  it.each(Object.keys(gatewayEnv.shape))("refuses a bad %s at start, naming it", (name) => {
    const bad = badValues[name as keyof typeof badValues];
    expect(bad).toBeDefined();
    expect(refusal({ [name]: bad })).toMatch(new RegExp(`^  ${name}(\\.\\d+)?: `, "m"));
  });

  it("names every bad variable at once", () => {
    const message = refusal({ PORT: "x", TRUST_PROXY: "10.0.0.x", BOOKING_URL: "" });
    expect(
      message
        .split("\n")
        .slice(1)
        .map((l) => l.trim().split(":")[0]),
    ).toEqual(["PORT", "BOOKING_URL", "TRUST_PROXY"]);
  });

  it("takes the sentinel URL form, and refuses replica acknowledgements on a cluster URL (WAIT needs one primary)", () => {
    const sentinel = "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/queue";
    expect(loadConfig({ ...base, REDIS_URL: sentinel, REDIS_MIN_REPLICAS_ACK: "1" })).toMatchObject({
      REDIS_URL: sentinel,
      REDIS_MIN_REPLICAS_ACK: 1,
      REDIS_REPLICA_ACK_TIMEOUT_MS: 500,
    });
    expect(refusal({ REDIS_URL: "redis+sentinel://10.0.0.1:26379" })).toMatch(/^ {2}REDIS_URL: /m);
    expect(refusal({ REDIS_URL: "redis+cluster://10.0.0.1:7000", REDIS_MIN_REPLICAS_ACK: "1" })).toMatch(
      /^ {2}REDIS_MIN_REPLICAS_ACK: needs REDIS_URL to name one primary/m,
    );
    expect(loadConfig({ ...base, REDIS_URL: "redis+cluster://10.0.0.1:7000" }).REDIS_MIN_REPLICAS_ACK).toBe(0);
  });

  it("says what is wrong with TRUST_PROXY, not only that an IP address is invalid", () => {
    expect(refusal({ TRUST_PROXY: "10.0.0.x" })).toContain(
      "TRUST_PROXY: invalid IP address: 10.0.0.x (give true, false, a hop count, or comma-separated addresses/subnets)",
    );
    expect(refusal({ TRUST_PROXY: "10.0.0.0/33" })).toMatch(/^ {2}TRUST_PROXY: /m);
  });

  it("compiles every documented TRUST_PROXY form once, into the function Express and the rate limiter take", () => {
    const trust = (v?: string) => loadConfig({ ...base, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).TRUST_PROXY;
    expect([trust()("10.1.2.3", 0), trust("false")("10.1.2.3", 0)]).toEqual([false, false]);
    expect(trust("true")("203.0.113.9", 5)).toBe(true);
    const hops = trust("2");
    expect([hops("203.0.113.9", 0), hops("203.0.113.9", 1), hops("203.0.113.9", 2)]).toEqual([true, true, false]);
    const subnets = trust("10.0.0.0/8, 192.168.1.7");
    expect([subnets("10.9.9.9", 0), subnets("192.168.1.7", 0), subnets("192.168.1.8", 0)]).toEqual([true, true, false]);
    expect(trust("loopback")("127.0.0.1", 0)).toBe(true);
  });

  it("takes the admission bounds from admissionSettings, the ones the operators' PATCH checks", () => {
    const vars = { batch: "QUEUE_ADMIT_BATCH", tickMs: "QUEUE_TICK_MS", maxActive: "QUEUE_MAX_ACTIVE" } as const;
    for (const [key, name] of Object.entries(vars) as [keyof typeof vars, string][]) {
      const { minValue, maxValue } = admissionSettings.shape[key];
      expect([minValue, maxValue].every(Number.isSafeInteger)).toBe(true);
      const read = (v: number) => (loadConfig({ ...base, [name]: String(v) }) as Record<string, unknown>)[name];
      expect([read(minValue!), read(maxValue!)]).toEqual([minValue, maxValue]);
      expect(refusal({ [name]: String(minValue! - 1) })).toMatch(new RegExp(`^  ${name}: `, "m"));
      expect(refusal({ [name]: String(maxValue! + 1) })).toMatch(new RegExp(`^  ${name}: `, "m"));
    }
  });

  it("defaults to the shared defaults, and ends with the shared production-secrets step", () => {
    const config = loadConfig(base);
    expect([config.PORT, config.BOOKING_URL, config.REDIS_URL]).toEqual([DEFAULT_PORTS.gateway, [DEFAULT_BOOKING_URL], DEFAULT_REDIS_URL]);
    expect(config.PASSPORT_SECRET).toBe(DEV_PASSPORT_SECRET);
    // the production-secrets step (its cases: packages/shared/test/config.test.ts) is this schema's too
    expect(refusal({ NODE_ENV: "production" }).match(/^ {2}\w+(?=:)/gm)).toEqual(["  AUTH_MODE", "  PASSPORT_SECRET", "  METRICS_TOKEN"]);
  });

  describe("AUTH_MODE and the AUTH_* variables", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const jwt = { AUTH_MODE: "jwt", AUTH_ISSUER: "https://idp.example/", AUTH_AUDIENCE: "concert-api" };
    const production = { NODE_ENV: "production", PASSPORT_SECRET: "p".repeat(32), METRICS_TOKEN: "m".repeat(32) };

    it("is none outside production, and must be given in production", () => {
      expect(loadConfig(base).AUTH_MODE).toBe("none");
      expect(refusal(production)).toMatch(/^ {2}AUTH_MODE: required when NODE_ENV is production/m);
      expect(loadConfig({ ...production, AUTH_MODE: "none" }).AUTH_MODE).toBe("none");
      expect(loadConfig({ ...production, ...jwt, AUTH_PUBLIC_KEY: pem }).AUTH_MODE).toBe("jwt");
    });

    it("needs exactly one key source, an issuer and an audience in jwt mode", () => {
      expect(refusal({ AUTH_MODE: "jwt" }).match(/^ {2}\w+(?=:)/gm)).toEqual(["  AUTH_JWKS_URL", "  AUTH_ISSUER", "  AUTH_AUDIENCE"]);
      expect(refusal({ ...jwt, AUTH_PUBLIC_KEY: pem, AUTH_JWKS_URL: "https://idp.example/jwks" })).toMatch(
        /^ {2}AUTH_PUBLIC_KEY: AUTH_MODE=jwt needs exactly one of AUTH_JWKS_URL and AUTH_PUBLIC_KEY/m,
      );
      // empty (compose's ${VAR:-}) is not given
      expect(refusal({ ...jwt, AUTH_ISSUER: "", AUTH_PUBLIC_KEY: pem })).toMatch(/^ {2}AUTH_ISSUER: required when AUTH_MODE=jwt/m);
      expect(loadConfig({ ...base, ...jwt, AUTH_JWKS_URL: "https://idp.example/jwks", AUTH_PUBLIC_KEY: "" }).AUTH_JWKS_URL).toBe(
        "https://idp.example/jwks",
      );
    });

    it("refuses HS* and none among the algorithms, naming the asymmetric ones", () => {
      for (const alg of ["HS256", "HS512", "none"]) {
        expect(refusal({ AUTH_ALGORITHMS: `ES256,${alg}` })).toMatch(
          /^ {2}AUTH_ALGORITHMS\.1: only asymmetric algorithms \(RS256, .*\); never HS\* or none/m,
        );
      }
      expect(loadConfig(base).AUTH_ALGORITHMS).toEqual(["RS256", "ES256", "EdDSA"]);
      expect(loadConfig({ ...base, AUTH_ALGORITHMS: "PS256, EdDSA" }).AUTH_ALGORITHMS).toEqual(["PS256", "EdDSA"]);
    });

    it("compiles AUTH_PUBLIC_KEY once, with real newlines or \\n escapes, and refuses a private key", () => {
      const key = loadConfig({ ...base, ...jwt, AUTH_PUBLIC_KEY: pem.replace(/\n/g, "\\n") }).AUTH_PUBLIC_KEY!;
      expect(key.export({ type: "spki", format: "pem" })).toBe(pem);
      const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
      expect(refusal({ ...jwt, AUTH_PUBLIC_KEY: privatePem })).toMatch(/^ {2}AUTH_PUBLIC_KEY: is a private key/m);
    });

    it("warns at start of a production gateway in none mode that user ids are trusted from the client", async () => {
      // main.js logs the warning before it listens; a closed Redis port stops it right after
      const { code, stderr, stdout } = await runEntryPoint(join(__dirname, "..", "dist", "main.js"), {
        ...production,
        AUTH_MODE: "none",
        REDIS_URL: "redis://127.0.0.1:1",
      });
      expect(code).toBe(1);
      expect(stdout + stderr).toContain("user ids are trusted from the client");
    });
  });

  it("splits BOOKING_URL on commas", () => {
    expect(loadConfig({ ...base, BOOKING_URL: " http://a:3001 ,http://b:3001," }).BOOKING_URL).toEqual(["http://a:3001", "http://b:3001"]);
  });

  it("makes main.js exit 1 with one line naming the variable", async () => {
    const { code, stderr } = await runEntryPoint(join(__dirname, "..", "dist", "main.js"), { NODE_ENV: "test", TRUST_PROXY: "10.0.0.x" });
    expect(code).toBe(1);
    expect(stderr).toContain("TRUST_PROXY: invalid IP address: 10.0.0.x");
  });
});
