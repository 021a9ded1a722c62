import Redis from "ioredis";
import type { BrowserContext } from "playwright-core";
import { DEFAULT_REDIS_URL } from "@concert/shared";
import { assertChromium, launchChromium } from "./browser";
import { startStack, type Stack } from "./stack";

export interface BrowserSuite {
  stack: Stack;
  context: BrowserContext;
  /** the apps' Redis, for what a test sets up behind the page (the operators' pause switch, a lost token) */
  redis: Redis;
}

/**
 * A test file's stack and browser: registers its beforeAll (Chromium checked first, so a missing
 * browser fails with its own message; then the apps on `queueName`; then Chromium) and afterAll.
 * The returned object is filled in before the first test runs.
 */
export function browserSuite(queueName: string, env: Parameters<typeof startStack>[1], logPrefix = ""): BrowserSuite {
  const suite = { redis: new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL, { lazyConnect: true }) } as BrowserSuite;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  beforeAll(async () => {
    assertChromium();
    suite.stack = await startStack(queueName, env, logPrefix);
    browser = await launchChromium();
    suite.context = browser.context;
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await suite.stack?.stop();
    suite.redis.disconnect();
  });
  return suite;
}
