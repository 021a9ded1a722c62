// The waiting-room page embedded by a site that has the login (jwt mode, README "Embedding the
// waiting room in jwt mode"): the site defines `window.ticketingAuth.getBearer()` before the page's
// script runs; the page asks it before every API request and sends `Authorization: Bearer …` on
// each, but not on the queue stream (EventSource cannot send headers; the queue token alone
// authenticates it). Without a bearer the gateway's 401 AUTH_REQUIRED / AUTH_INVALID makes the page
// say "sign in on the site first", once, with no retry loop.
//
// The gateway here runs as `GATEWAY_ENV` says (none mode ignores the bearer, so the journey runs
// and every request the page sends is recorded). To run this against a real jwt-mode gateway, set
// AUTH_MODE=jwt with its key settings in GATEWAY_ENV and make `siteBearer` return tokens minted for
// the visitor's user id; the assertions stay as they are.
import { join } from "node:path";
import type { Page, Request } from "playwright-core";
import { errorShown, holdChargeAndPay, newTab, step } from "./support/browser";
import { ARTIFACTS } from "./support/stack";
import { browserSuite } from "./support/suite";

const queueName = `browser-jwt-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const GATEWAY_ENV = { QUEUE_TICK_MS: "200", QUEUE_ADMIT_BATCH: "5", TOKEN_RATE_LIMIT: "0" };
/** The embedding site's bearer for its n-th request: a fresh one each time, as a site that refreshes would give. */
const siteBearer = (n: number) => `site-jwt-${n}`;

const suite = browserSuite(queueName, { gateway: GATEWAY_ENV }, "jwt-");
const pageErrors: string[] = [];
const cfgKey = `{q:${queueName}}:cfg`;

/**
 * A page whose embedding site signs its user in: `ticketingAuth` defined before the page's
 * script, counting the bearers it hands out (`window.bearersGiven`); `signedIn: false` is a site
 * with nobody signed in (getBearer throws).
 */
async function embeddedPage(signedIn = true): Promise<Page> {
  const page = await newTab(suite.context, pageErrors);
  await page.addInitScript(
    ({ signedIn, prefix }) => {
      const w = window as unknown as { bearersGiven: number; ticketingAuth: { getBearer(): Promise<string> } };
      w.bearersGiven = 0;
      w.ticketingAuth = {
        async getBearer() {
          if (!signedIn) throw new Error("nobody is signed in");
          w.bearersGiven++;
          return `${prefix}${w.bearersGiven}`;
        },
      };
    },
    { signedIn, prefix: siteBearer(0).replace(/0$/, "") },
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
const refuse = (page: Page, url: string, status: number, code: string, headers: Record<string, string> = {}) =>
  page.route(url, (route) =>
    route.fulfill({
      status,
      headers,
      contentType: "application/json",
      body: JSON.stringify({ result: null, error: { code, message: code } }),
    }),
  );
const isStream = (r: Request) => new URL(r.url()).pathname === "/api/queue/stream";

describe("the page in jwt mode, embedded by a site that gives the bearer", () => {
  it("sends the site's bearer on every API request of a journey to a paid seat, and none on the queue stream", async () => {
    const page = await embeddedPage();
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
    const bearers = calls.map((r) => r.headers().authorization);
    expect(bearers.every((b) => /^Bearer site-jwt-\d+$/.test(b ?? ""))).toBe(true);
    // asked before each request: a bearer of its own for each
    expect(new Set(bearers).size).toBe(calls.length);
    expect(await page.evaluate(() => (window as unknown as { bearersGiven: number }).bearersGiven)).toBe(calls.length);
    const streams = requests.filter(isStream);
    expect(streams.length).toBeGreaterThan(0);
    expect(streams.every((r) => r.headers().authorization === undefined)).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it("says to sign in on the site first when the site has no bearer and the gateway answers 401 AUTH_REQUIRED", async () => {
    const page = await embeddedPage(false);
    const requests = recordApiRequests(page);
    // what a jwt-mode gateway answers a request without a bearer
    await refuse(page, "**/api/users/token", 401, "AUTH_REQUIRED", { "www-authenticate": "Bearer" });
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
    const page = await embeddedPage();
    const requests = recordApiRequests(page);
    // a proxy that refuses event streams, so the page polls; the gateway then refuses the expired bearer
    await refuse(page, "**/api/queue/stream**", 503, "SERVICE_UNAVAILABLE");
    await refuse(page, "**/api/users/*/token", 401, "AUTH_INVALID", { "www-authenticate": 'Bearer error="invalid_token"' });
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
