// The operator console at /console, in Chromium, against real booking and two real gateway
// processes on one queue: a wrong credential is refused; signed in, the general room's figures move
// while a test client queues users; pausing from the console stops the second instance admitting
// too; a bigger batch makes admitted-per-minute follow; the audit log shows the actions and who
// took them. Screenshots go to test-artifacts/browser/console-*.png.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { newTab } from "./support/browser";
import { ARTIFACTS, AppProcess, http } from "./support/stack";
import { browserSuite } from "./support/suite";

const ADMIN_TOKEN = "console-test-admin-token-0123";
const TICK_MS = 400;
const queueName = `console-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const gatewayEnv = {
  ADMIN_TOKEN,
  QUEUE_TICK_MS: String(TICK_MS),
  QUEUE_ADMIT_BATCH: "1",
  TOKEN_RATE_LIMIT: "0",
  WAITING_IDLE_TTL_SEC: "600",
};
const suite = browserSuite(queueName, { booking: { SWEEP_INTERVAL_MS: "500" }, gateway: gatewayEnv }, "console-");
let second: AppProcess;
const pageErrors: string[] = [];

beforeAll(async () => {
  // a second gateway instance on the same queue and Redis, in front of the same booking
  second = await new AppProcess("gateway", {
    ...gatewayEnv,
    QUEUE_NAME: queueName,
    REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
    BOOKING_URL: suite.stack.booking.url,
  }).start();
}, 30_000);
afterAll(async () => {
  await second?.stop(join(ARTIFACTS, "console-gateway-2.log"));
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `console-${name}.png`), fullPage: true });
const fig = async (page: Page, name: string) =>
  Number(await page.locator(`[data-room="general"] [data-fig="${name}"]`).getAttribute("data-value"));
/** waits for the next 2-s refresh of the page's figures */
async function nextRefresh(page: Page): Promise<void> {
  const at = await page.evaluate(() => Number(document.body.dataset.updatedAt ?? 0));
  await page.waitForFunction((t) => Number(document.body.dataset.updatedAt ?? 0) > t, at, { timeout: 10_000 });
}
/** tokens the second instance's own ticks admitted (its queue_admitted_total) */
async function admittedBySecond(): Promise<number> {
  const text = await (await fetch(`${second.url}/metrics`)).text();
  const m = /^queue_admitted_total\{[^}]*room="general"[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}
const queueUsers = (from: number, count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => http(suite.stack.gateway.url, "POST", "/api/users/token", { userId: from + i })));

it("signs in (a wrong credential refused), shows figures moving, pauses every instance, changes the batch, and audits both", async () => {
  const page = await newTab(suite.context, pageErrors);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(suite.stack.gateway.url + "/console");
  await page.waitForSelector('body[data-ready="true"]');

  // 1. a wrong credential is refused and not kept
  await page.getByLabel("Operator credential").fill("not-the-admin-token");
  await page.getByLabel("Your name").fill("Alice Ops");
  await page.getByLabel("Your name").press("Enter");
  await page.waitForFunction(() => document.getElementById("alert-text")!.textContent === "Wrong operator credential.");
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  expect(await page.locator("#dashboard").isHidden()).toBe(true);
  await shot(page, "01-wrong-credential");

  // 2. signed in (keyboard only: Enter in the form); the credential lives in sessionStorage only
  await page.getByLabel("Operator credential").fill(ADMIN_TOKEN);
  await page.getByLabel("Operator credential").press("Enter");
  await page.waitForSelector('body[data-signed-in="true"]');
  expect(await page.evaluate(() => localStorage.length)).toBe(0);
  expect(await page.evaluate(() => sessionStorage.getItem("concert.console.credentials"))).toContain("Alice Ops");
  await page.waitForSelector('[data-room="general"] [data-fig="waiting"][data-value]');

  // 3. figures move while a test client queues users (batch 1 every 400 ms: the line is long)
  const queued = await queueUsers(10_001, 150);
  await page.waitForFunction(() => Number(document.querySelector('[data-fig="waiting"]')!.getAttribute("data-value")) > 100, undefined, {
    timeout: 10_000,
  });
  const admittedEarly = await fig(page, "admittedLastMinute");
  await nextRefresh(page);
  await nextRefresh(page);
  expect(await fig(page, "admittedLastMinute")).toBeGreaterThan(admittedEarly);
  expect(await fig(page, "lastWait")).toBeGreaterThan(0);
  await page.waitForSelector('[data-room="general"] [data-seats] tr[data-date]'); // booking's seats per date
  // booking's health: 20 seat-map reads by the first admitted user, answered 200
  const firstToken = queued[0].body.result.token as string;
  const date = suite.stack.db.concertDetailIds[0];
  for (let i = 0; i < 20; i++) {
    expect((await http(suite.stack.gateway.url, "GET", `/api/concert/${date}/seat`, undefined, { token: firstToken })).status).toBe(200);
  }
  await page.waitForFunction(() => /^0\.0 % of 2\d$/.test(document.querySelector('[data-fig="bookingErrors"]')!.textContent), undefined, {
    timeout: 10_000,
  });
  await shot(page, "02-live");

  // 4. pause, confirmed in the dialog; the second instance stops admitting as well
  await until(async () => (await admittedBySecond()) > 0, "the second instance admitted nobody before the pause");
  await page.getByRole("button", { name: "Pause admission" }).click();
  await page.waitForSelector("#confirm[open]");
  await expect(page.locator("#confirm-text").textContent()).resolves.toContain("Pause admission in the General room?");
  await shot(page, "03-confirm-pause");
  await page.locator("#confirm-yes").click();
  await page.waitForSelector('[data-room="general"][data-paused="true"]');
  await sleep(TICK_MS * 2); // a tick in flight when the switch flipped may still land
  const [secondAtPause, waitingAtPause] = [await admittedBySecond(), await queueFigure("waiting")];
  await sleep(TICK_MS * 6);
  expect(await admittedBySecond()).toBe(secondAtPause);
  expect(await queueFigure("waiting")).toBe(waitingAtPause);
  await shot(page, "04-paused");

  // 5. resume at batch 1, then batch 10: admitted per minute follows
  await page.getByRole("button", { name: "Resume admission" }).click();
  await page.locator("#confirm-yes").click();
  await page.waitForSelector('[data-room="general"][data-paused="false"]');
  const r0 = await queueFigure("admittedLastMinute");
  await sleep(3_000);
  const slow = (await queueFigure("admittedLastMinute")) - r0; // about 7 at 1 per 400 ms
  const batch = page.getByLabel("Batch (admitted per tick)");
  await batch.fill("10");
  await batch.press("Enter");
  await page.waitForSelector("#confirm[open]");
  await expect(page.locator("#confirm-text").textContent()).resolves.toContain("batch 1 → 10");
  await page.locator("#confirm-yes").click();
  await page.waitForFunction(() => document.getElementById("notice")!.textContent.startsWith("Done: Change batch 1 → 10"));
  const r1 = await queueFigure("admittedLastMinute");
  await sleep(3_000);
  const fast = (await queueFigure("admittedLastMinute")) - r1; // about 70 at 10 per 400 ms
  expect(fast).toBeGreaterThan(slow * 3);
  // and the page's figure shows it
  await nextRefresh(page);
  expect(await fig(page, "admittedLastMinute")).toBeGreaterThanOrEqual(r1 + fast);
  await shot(page, "05-batch-changed");

  // 6. the audit log: pause, resume and the batch change, by Alice Ops, newest first
  await nextRefresh(page);
  const rows = await page.locator("#audit-rows tr").evaluateAll((trs) =>
    trs.map((tr) => [
      tr.getAttribute("data-action"),
      ...Array.from(tr.querySelectorAll("td"))
        .slice(1)
        .map((td) => td.textContent),
    ]),
  );
  expect(rows.slice(0, 3)).toEqual([
    ["queue.settings.update", "Alice Ops", "queue.settings.update", "batch: 1 → 10"],
    ["queue.resume", "Alice Ops", "queue.resume", "paused: true → false"],
    ["queue.pause", "Alice Ops", "queue.pause", "paused: false → true"],
  ]);
  await page.locator("#audit").scrollIntoViewIfNeeded();
  await shot(page, "06-audit");

  // the same page on a phone
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "07-phone");
  expect(pageErrors).toEqual([]);
  await page.close();
}, 90_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(ok: () => Promise<boolean>, message: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(message);
    await sleep(100);
  }
}
/** a figure straight from the admin API of the second instance (the page's poll is every 2 s) */
async function queueFigure(name: "waiting" | "admittedLastMinute"): Promise<number> {
  const r = await http(second.url, "GET", "/admin/queue", undefined, { authorization: `Bearer ${ADMIN_TOKEN}` });
  return r.body.result[name] as number;
}
