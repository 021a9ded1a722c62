// The waiting-room page embedded by a site that has the login (jwt mode, README "Embedding the
// waiting room in jwt mode"): the site defines `window.ticketingAuth.getBearer()` before the page's
// script runs; the page asks it before every API request and sends `Authorization: Bearer …` on
// each, but not on the queue stream (EventSource cannot send headers; the queue token alone
// authenticates it). Without a bearer the gateway's 401 AUTH_REQUIRED / AUTH_INVALID makes the page
// say "sign in on the site first", once, with no retry loop.
//
// The gateway runs in AUTH_MODE=jwt with the public key of a signing key made at test time; the
// site's bearers are tokens minted with it for the visitor's user id, so every answer here is the
// real gateway's.
import { join } from "node:path";
import type { Page, Request } from "playwright-core";
import { AUDIENCE, ISSUER, mint, testKey, type TestKey } from "@concert/test-support";
import { errorShown, holdChargeAndPay, newTab, step } from "./support/browser";
import { ARTIFACTS } from "./support/stack";
import { browserSuite } from "./support/suite";

const queueName = `browser-jwt-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const GATEWAY_ENV: Record<string, string> = { QUEUE_TICK_MS: "200", QUEUE_ADMIT_BATCH: "5", TOKEN_RATE_LIMIT: "0" };
let siteKey: TestKey;
// before the suite's own beforeAll starts the gateway with GATEWAY_ENV
beforeAll(async () => {
  siteKey = await testKey("site-1", "ES256");
  Object.assign(GATEWAY_ENV, { AUTH_MODE: "jwt", AUTH_PUBLIC_KEY: siteKey.spki, AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCE });
});

/** `n` distinct tokens of the site for `userId` (each with its own jti), as a site that refreshes would give; `expired`: already past their exp. */
const siteBearers = (userId: number, n: number, expired = false) =>
  Promise.all(Array.from({ length: n }, () => mint(siteKey, String(userId), expired ? { exp: Math.floor(Date.now() / 1000) - 60 } : {})));

const suite = browserSuite(queueName, { gateway: GATEWAY_ENV }, "jwt-");
const pageErrors: string[] = [];
const cfgKey = `{q:${queueName}}:cfg`;

/**
 * A page whose embedding site signs its user in: `ticketingAuth` defined before the page's
 * script, handing out `bearers` in turn (`window.bearersGiven` counts them); an empty list is a
 * site with nobody signed in (getBearer throws).
 */
async function embeddedPage(bearers: string[]): Promise<Page> {
  const page = await newTab(suite.context, pageErrors);
  await page.addInitScript(
    ({ bearers }) => {
      const w = window as unknown as { bearersGiven: number; ticketingAuth: { getBearer(): Promise<string> } };
      w.bearersGiven = 0;
      w.ticketingAuth = {
        async getBearer() {
          if (bearers.length === 0) throw new Error("nobody is signed in");
          return bearers[Math.min(w.bearersGiven++, bearers.length - 1)];
        },
      };
    },
    { bearers },
  );
  return page;
}

/** Every API request the page sends, as it left the browser. */
function recordApiRequests(page: Page): Request[] {
  const seen: Request[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/")) seen.push(r);
  });
  return seen;
}

/** Answers the page's requests to `url` with a refusal in the envelope, as the gateway (or a proxy) would. */
const refuse = (page: Page, url: string, status: number, code: string) =>
  page.route(url, (route) =>
    route.fulfill({
      status,
      contentType: "application/json",
      body: JSON.stringify({ result: null, error: { code, message: code } }),
    }),
  );
const isStream = (r: Request) => new URL(r.url()).pathname === "/api/queue/stream";

describe("the page in jwt mode, embedded by a site that gives the bearer", () => {
  it("sends the site's bearer on every API request of a journey to a paid seat, and none on the queue stream", async () => {
    const bearers = await siteBearers(5151, 200);
    const page = await embeddedPage(bearers);
    const requests = recordApiRequests(page);
    await page.goto(suite.stack.gateway.url + "/");
    await page.waitForSelector('body[data-ready="true"]');
    await page.getByLabel("Your user id").fill("5151");
    await page.getByRole("button", { name: "Join the queue" }).click();
    await step(page, "dates", 15_000);
    await page.locator(".date").first().click();
    await step(page, "seats");
    await holdChargeAndPay(page, 3, 50_000);

    const calls = requests.filter((r) => !isStream(r));
    const routes = new Set(calls.map((r) => `${r.method()} ${new URL(r.url()).pathname.replace(/\d+/g, ":id")}`));
    // the journey used every kind of call the page makes but the poll (the stream carried the wait)
    expect([...routes]).toEqual(
      expect.arrayContaining([
        "POST /api/users/token",
        "GET /api/concert/:id/date",
        "GET /api/concert/:id/seat",
        "POST /api/reservations",
        "GET /api/users/:id/point",
        "PATCH /api/users/point",
        "POST /api/payment",
      ]),
    );
    const sent = calls.map((r) => r.headers().authorization);
    // asked before each request: the site's next bearer for each
    expect(sent).toEqual(bearers.slice(0, calls.length).map((b) => `Bearer ${b}`));
    expect(await page.evaluate(() => (window as unknown as { bearersGiven: number }).bearersGiven)).toBe(calls.length);
    const streams = requests.filter(isStream);
    expect(streams.length).toBeGreaterThan(0);
    expect(streams.every((r) => r.headers().authorization === undefined)).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it("says to sign in on the site first when the site has no bearer and the gateway answers 401 AUTH_REQUIRED", async () => {
    const page = await embeddedPage([]);
    const requests = recordApiRequests(page);
    await page.goto(suite.stack.gateway.url + "/");
    await page.waitForSelector('body[data-ready="true"]');
    await page.getByLabel("Your user id").fill("5252");
    await page.getByRole("button", { name: "Join the queue" }).click();
    await errorShown(page, "AUTH_REQUIRED");
    await expect(page.locator("#alert-text").textContent()).resolves.toContain("sign in on the site first");
    await expect(page.locator("#alert-action").isHidden()).resolves.toBe(true);
    expect(requests.map((r) => [r.url().replace(suite.stack.gateway.url, ""), r.headers().authorization])).toEqual([
      ["/api/users/token", undefined],
    ]);
    await page.screenshot({ path: join(ARTIFACTS, "12-sign-in-first.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);

  it("stops polling and says to sign in again when the bearer runs out while waiting (401 AUTH_INVALID)", async () => {
    // the site's first bearer joins; every later one has run out
    const page = await embeddedPage([...(await siteBearers(5353, 1)), ...(await siteBearers(5353, 1, true))]);
    const requests = recordApiRequests(page);
    // a proxy that refuses event streams, so the page polls; the gateway then refuses the expired bearer
    await refuse(page, "**/api/queue/stream**", 503, "SERVICE_UNAVAILABLE");
    await page.goto(suite.stack.gateway.url + "/");
    await page.waitForSelector('body[data-ready="true"]');
    // paused admission (the operators' switch) keeps the visitor waiting, and polling, however slow this machine is
    await suite.redis.hset(cfgKey, "paused", "1");
    try {
      await page.getByLabel("Your user id").fill("5353");
      await page.getByRole("button", { name: "Join the queue" }).click();
      await errorShown(page, "AUTH_INVALID", 10_000);
      await expect(page.locator("#alert-text").textContent()).resolves.toContain("sign in on the site first");
      const polls = () => requests.filter((r) => /\/api\/users\/\d+\/token$/.test(r.url())).length;
      const after = polls();
      expect(after).toBe(1);
      await page.waitForTimeout(4_500); // two poll periods: no poll after the refusal
      expect(polls()).toBe(after);
    } finally {
      await suite.redis.hset(cfgKey, "paused", "0");
    }
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);
});
