// The whole journey on the waiting-room page, in Chromium, against real booking and gateway
// processes: join → live rank over SSE → admitted → date → seat map (a seat taken by someone else
// in between) → hold with a countdown that runs out → hold again → not enough points → charge →
// pay → confirmation; and a second visitor whose stream is blocked (polling fallback) and whose
// token goes bad (rejoin). Screenshots of each step go to test-artifacts/browser/.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { errorShown, holdChargeAndPay, newTab, step } from "./support/browser";
import { ARTIFACTS, http } from "./support/stack";
import { browserSuite } from "./support/suite";

const HOLD_TTL_SEC = 8;
const TICK_MS = 300;
const BATCH = 2;

const queueName = `browser-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const suite = browserSuite(queueName, {
  booking: { SEAT_HOLD_TTL_SEC: String(HOLD_TTL_SEC), SWEEP_INTERVAL_MS: "500" },
  gateway: { QUEUE_TICK_MS: String(TICK_MS), QUEUE_ADMIT_BATCH: String(BATCH), TOKEN_RATE_LIMIT: "0" },
});
const pageErrors: string[] = [];

const newPage = (): Promise<Page> => newTab(suite.context, pageErrors);
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const seat = (page: Page, n: number) => page.locator(`.seat[data-seat="${n}"]`);

/**
 * Pauses admission (the operators' switch in the queue's cfg hash) and queues `count` users (not
 * in the browser), so that the browser's visitor has exactly that many people ahead however slow
 * this machine is; `resume()` lets the ticks admit again.
 */
async function crowd(fromUserId: number, count: number): Promise<{ resume(): Promise<void> }> {
  if (suite.redis.status === "wait") await suite.redis.connect();
  const cfg = `{q:${queueName}}:cfg`;
  await suite.redis.hset(cfg, "paused", "1");
  await Promise.all(
    Array.from({ length: count }, (_, i) => http(suite.stack.gateway.url, "POST", "/api/users/token", { userId: fromUserId + i })),
  );
  return { resume: async () => void (await suite.redis.hset(cfg, "paused", "0")) };
}

/** Another visitor, over plain HTTP: queues and waits until admitted; returns the token. */
async function admittedVisitor(userId: number): Promise<string> {
  const { body } = await http(suite.stack.gateway.url, "POST", "/api/users/token", { userId });
  const token = body.result.token as string;
  for (let i = 0; i < 200; i++) {
    const polled = await http(suite.stack.gateway.url, "GET", `/api/users/${userId}/token`, undefined, { token });
    if (polled.body.result?.status === "IN_PROGRESS") return token;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`visitor ${userId} was not admitted`);
}

it("takes a visitor from the queue to a paid seat, through a seat taken in between, an expired hold and too few points", async () => {
  const other = 7001;
  const otherToken = await admittedVisitor(other);
  const firstDate = suite.stack.db.concertDetailIds[0];
  // someone else already holds seat 1 of the first date: it must show as taken
  const holdAsOther = (seatId: number) =>
    http(
      suite.stack.gateway.url,
      "POST",
      "/api/reservations",
      { concertDetailId: firstDate, userId: other, seatId },
      { token: otherToken },
    );
  expect((await holdAsOther(1)).status).toBe(201);

  const page = await newPage();
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');
  await shot(page, "01-join");

  // 1. join, with the keyboard; 16 people are ahead, then admitted 2 per 300 ms tick
  const queue = await crowd(9001, 16);
  await page.getByLabel("Your user id").fill("4242");
  await page.getByLabel("Your user id").press("Enter");
  await step(page, "waiting");
  const firstRank = Number(await page.locator("#rank").getAttribute("data-rank"));
  expect(firstRank).toBe(17);
  await expect(page.locator("#eta").textContent()).resolves.toMatch(/about \d+ (s|min)/);
  await page.waitForSelector('body[data-transport="stream"]');
  await queue.resume();

  // 2. the rank moves (pushed over SSE) and so does the progress bar
  await page.waitForFunction((r) => Number(document.getElementById("rank")!.dataset.rank) < r, firstRank, { timeout: 5_000 });
  const progress = Number(await page.locator("#progress").getAttribute("aria-valuenow"));
  expect(progress).toBeGreaterThan(3);
  await shot(page, "02-waiting");

  // 3. admitted: the dates, with the heading focused for keyboard and screen-reader users
  await step(page, "dates", 15_000);
  await page.waitForSelector(".date");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("dates-title");
  await shot(page, "03-dates");

  // 4. the seat map of the first date: 50 seats, seat 1 greyed out
  await page.locator(`.date[data-concert-detail-id="${firstDate}"]`).click();
  await step(page, "seats");
  await expect(page.locator(".seat").count()).resolves.toBe(50);
  await expect(seat(page, 1).isDisabled()).resolves.toBe(true);
  await expect(seat(page, 1).getAttribute("aria-label")).resolves.toBe("Seat 1, taken");
  await expect(seat(page, 7).isEnabled()).resolves.toBe(true);
  await shot(page, "04-seats");

  // 5. pick seat 7, but someone else holds it first
  await seat(page, 7).click();
  await expect(page.locator("#hold-button").textContent()).resolves.toBe("Hold seat 7");
  expect((await holdAsOther(7)).status).toBe(201);
  await page.locator("#hold-button").click();
  await errorShown(page, "SEAT_UNAVAILABLE");
  await expect(page.locator("#alert-text").textContent()).resolves.toContain("seat 7 was just taken by someone else");
  await page.waitForSelector('.seat[data-seat="7"]:disabled'); // the map was reloaded
  await shot(page, "05-seat-taken");

  // 6. hold seat 8 (keyboard: focus and Space): the countdown runs from expiresAt
  await seat(page, 8).focus();
  await page.keyboard.press("Space");
  await page.locator("#hold-button").click();
  await step(page, "hold");
  await expect(page.locator("#countdown").textContent()).resolves.toMatch(/^0:0[1-8]$/);
  // paying with no points is refused with the balance and the price
  await page.locator("#pay-button").click();
  await errorShown(page, "INSUFFICIENT_POINTS");
  await expect(page.locator("#alert-text").textContent()).resolves.toContain(
    "Not enough points: you have 0 points and the seat costs 50,000 points",
  );
  await expect(page.locator("#charge-amount").inputValue()).resolves.toBe("50000");
  await shot(page, "06-hold-not-enough-points");

  // 7. the hold runs out: the page says so and offers to choose again
  await errorShown(page, "HOLD_EXPIRED", (HOLD_TTL_SEC + 3) * 1000);
  await expect(page.locator("#countdown").textContent()).resolves.toBe("0:00");
  await expect(page.locator("#pay-button").isDisabled()).resolves.toBe(true);
  await shot(page, "07-hold-expired");

  // 8. choose again, hold seat 9, charge points (Enter in the field), pay
  await page.getByRole("button", { name: "Choose a seat again" }).click();
  await step(page, "seats");
  await holdChargeAndPay(page, 9, 50_000);
  await expect(page.locator("#done-text").textContent()).resolves.toContain("Seat 9 on");
  await expect(page.locator("#done-amount").textContent()).resolves.toBe("50,000 points");
  await expect(page.locator("#done-balance").textContent()).resolves.toBe("0 points");
  await shot(page, "08-confirmation");

  // the seats as booking sees them: 9 sold to 4242 (7 and 1 held by the other visitor)
  const free = await http(suite.stack.gateway.url, "GET", `/api/concert/${firstDate}/seat`, undefined, { token: otherToken });
  expect(free.body.result).not.toContain(9);
  expect(pageErrors).toEqual([]);
  await page.close();
}, 90_000);

it("holds two seats together, releases one (free for others at once) and pays the other", async () => {
  const otherToken = await admittedVisitor(7002);
  const date = suite.stack.db.concertDetailIds[1];
  const freeNow = async () =>
    (await http(suite.stack.gateway.url, "GET", `/api/concert/${date}/seat`, undefined, { token: otherToken })).body.result as number[];
  const page = await newPage();
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByLabel("Your user id").fill("4444");
  await page.getByLabel("Your user id").press("Enter");
  await step(page, "dates", 15_000);
  await page.locator(`.date[data-concert-detail-id="${date}"]`).click();
  await step(page, "seats");

  // pick two seats (a third click on one puts it back), hold them together
  await seat(page, 20).click();
  await seat(page, 22).click();
  await seat(page, 21).click();
  await seat(page, 22).click();
  await expect(page.locator("#hold-button").textContent()).resolves.toBe("Hold seats 20, 21");
  await page.locator("#hold-button").click();
  await step(page, "hold");
  await expect(page.locator("#hold-title").textContent()).resolves.toBe("Seats 20, 21 are held for you");
  await expect(page.locator("#hold-price").textContent()).resolves.toBe("100,000 points");
  expect(await freeNow()).not.toContain(20);
  await shot(page, "11-two-seats-held");

  // release seat 20: the other visitor sees it free right away; 21 stays held
  await page.getByRole("button", { name: "Release seat 20" }).click();
  await page.waitForFunction(() => document.getElementById("hold-title")!.textContent === "Seat 21 is held for you");
  await expect(page.locator("#pay-button").textContent()).resolves.toBe("Pay 50,000 points");
  const free = await freeNow();
  expect(free).toContain(20);
  expect(free).not.toContain(21);
  await shot(page, "12-one-seat-released");

  // pay the other
  await page.locator("#charge-amount").fill("50000");
  await page.locator("#charge-amount").press("Enter");
  await page.waitForFunction(() => document.getElementById("balance")!.textContent === "50,000 points");
  await page.locator("#pay-button").click();
  await step(page, "done");
  await expect(page.locator("#done-text").textContent()).resolves.toContain("Seat 21 on");
  await expect(page.locator("#done-amount").textContent()).resolves.toBe("50,000 points");
  await shot(page, "13-other-seat-paid");
  expect(await freeNow()).toContain(20);
  expect(pageErrors).toEqual([]);
  await page.close();
}, 60_000);

it("falls back to polling when the stream is blocked, and offers to rejoin when the token goes bad", async () => {
  const page = await newPage();
  // a proxy that refuses event streams: the page must poll instead
  await page.route("**/api/queue/stream**", (route) =>
    route.fulfill({
      status: 503,
      contentType: "application/json",
      body: JSON.stringify({ result: null, error: { code: "SERVICE_UNAVAILABLE", message: "no streams here" } }),
    }),
  );
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');

  const queue = await crowd(9101, 6);
  const joined = page.waitForResponse((r) => r.url().endsWith("/api/users/token") && r.request().method() === "POST");
  await page.getByLabel("Your user id").fill("4343");
  await page.getByRole("button", { name: "Join the queue" }).click();
  const token = ((await (await joined).json()) as { result: { token: string } }).result.token;
  await step(page, "waiting");
  await page.waitForSelector('body[data-transport="poll"]');
  await expect(page.locator("#transport").textContent()).resolves.toContain("every 2 seconds");
  await expect(page.locator("#rank").getAttribute("data-rank")).resolves.toBe("7");
  await queue.resume();
  await step(page, "dates", 15_000);

  // the token disappears (as if Redis lost it): the next call is refused with TOKEN_INVALID
  await suite.redis.del(`{q:${queueName}}:t:${token}`);
  await page.locator(".date").first().click();
  await errorShown(page, "TOKEN_INVALID");
  await expect(page.locator("#alert-text").textContent()).resolves.toContain("Join the queue again");
  await shot(page, "09-token-invalid");
  await page.getByRole("button", { name: "Join the queue again" }).click();
  await step(page, "dates", 15_000);
  await shot(page, "10-rejoined");
  expect(pageErrors).toEqual([]);
  await page.close();
}, 60_000);

it("resumes the same place after a reload, and tells a second tab naming the same user that the place is held elsewhere", async () => {
  const queue = await crowd(9201, 4);
  const page = await newPage();
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');
  const joined = page.waitForResponse((r) => r.url().endsWith("/api/users/token") && r.request().method() === "POST");
  await page.getByLabel("Your user id").fill("4444");
  await page.getByRole("button", { name: "Join the queue" }).click();
  const token = ((await (await joined).json()) as { result: { token: string } }).result.token;
  await step(page, "waiting");
  // (admission is paused: the rank holds still; the crowd and whoever earlier tests left waiting are ahead)
  const rank = await page.locator("#rank").getAttribute("data-rank");
  expect(Number(rank)).toBeGreaterThanOrEqual(5);

  // a reload presents the tab's token: the same place, without touching the form
  const resumed = page.waitForResponse((r) => r.url().endsWith("/api/users/token") && r.request().method() === "POST");
  await page.reload();
  const again = await resumed;
  expect(again.request().headers().token).toBe(token);
  expect(((await again.json()) as { result: { token: string } }).result.token).toBe(token);
  await step(page, "waiting");
  await expect(page.locator("#rank").getAttribute("data-rank")).resolves.toBe(rank);

  // another tab (its own sessionStorage) naming the same user is refused, with words, and nothing moves
  const other = await newPage();
  await other.goto(suite.stack.gateway.url + "/?user=4444");
  await other.waitForSelector('body[data-ready="true"]');
  await other.getByRole("button", { name: "Join the queue" }).click();
  await errorShown(other, "ALREADY_QUEUED");
  await expect(other.locator("#alert-text").textContent()).resolves.toContain("already has a place in the queue");
  await shot(other, "11-already-queued");
  await expect(page.locator("#rank").getAttribute("data-rank")).resolves.toBe(rank);
  await queue.resume();
  await step(page, "dates", 15_000);
  expect(pageErrors).toEqual([]);
  await Promise.all([page.close(), other.close()]);
}, 60_000);
