import { z } from "zod";
import { ConfigError, DEV_PASSPORT_SECRET, commonEnv, parseConfig, withProductionSecrets } from "../src/config";

// The production-secrets step every app's schema ends with, on the variables both apps read.
const schema = z.object(commonEnv).transform(withProductionSecrets);
const load = (env: NodeJS.ProcessEnv) => parseConfig(schema, env);
/** The ConfigError's message for `env` (throws when `env` is accepted, so a refusal test cannot pass by accident). */
function refusal(env: NodeJS.ProcessEnv): string {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe("withProductionSecrets", () => {
  it("uses the development passport secret only in development and test, and needs no metrics token there", () => {
    for (const NODE_ENV of ["development", "test"]) {
      const config = load({ NODE_ENV });
      expect([config.PASSPORT_SECRET, config.METRICS_TOKEN]).toEqual([DEV_PASSPORT_SECRET, undefined]);
    }
  });

  it("in production refuses a missing or built-in passport secret and a missing metrics token, naming each", () => {
    expect(refusal({ NODE_ENV: "production" })).toMatch(/^ {2}PASSPORT_SECRET: required when NODE_ENV is production/m);
    expect(refusal({ NODE_ENV: "production", PASSPORT_SECRET: DEV_PASSPORT_SECRET })).toMatch(
      /^ {2}PASSPORT_SECRET: is the built-in development secret/m,
    );
    expect(refusal({ NODE_ENV: "production", PASSPORT_SECRET: "p".repeat(16) })).toMatch(
      /^ {2}METRICS_TOKEN: required when NODE_ENV is production/m,
    );
    expect(refusal({ NODE_ENV: "production" }).match(/^ {2}\w+(?=:)/gm)).toEqual(["  PASSPORT_SECRET", "  METRICS_TOKEN"]);
  });

  it("in production takes both secrets as given", () => {
    const env = { NODE_ENV: "production", PASSPORT_SECRET: "p".repeat(16), METRICS_TOKEN: "m".repeat(16) };
    expect(load(env)).toMatchObject({ PASSPORT_SECRET: env.PASSPORT_SECRET, METRICS_TOKEN: env.METRICS_TOKEN });
  });
});
