// The operator console with a concert room (issue 18 for every room, issue 14's rooms), in
// Chromium, against real booking and gateway processes: a concert made through POST /admin/concerts
// with a scheduled sale is listed next to the general room with its own figures (its pre-queue, its
// seats per date); from the console an operator sets its opening time, pauses it, opens the sale
// now (the pre-queue turns into ranks 1..n), resumes it (its admitted-per-minute moves), changes its
// batch, closes the sale and opens it again; the audit log shows each action with the operator's name.
// Screenshots go to test-artifacts/browser/console-rooms-*.png.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { newTab } from "./support/browser";
import { ARTIFACTS, http } from "./support/stack";
import { browserSuite } from "./support/suite";

const ADMIN_TOKEN = "console-rooms-admin-token-0123";
const queueName = `console-rooms-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const suite = browserSuite(
  queueName,
  { booking: { SWEEP_INTERVAL_MS: "500" }, gateway: { ADMIN_TOKEN, QUEUE_TICK_MS: "300", TOKEN_RATE_LIMIT: "0" } },
  "console-rooms-",
);
const pageErrors: string[] = [];
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `console-rooms-${name}.png`), fullPage: true });

it("lists a concert room with its own figures and steers its sale from the console, audited with the operator's name", async () => {
  const gw = suite.stack.gateway.url;
  const hour = 3_600_000;
  const created = await http(
    gw,
    "POST",
    "/admin/concerts",
    {
      name: "Console night",
      seatPrice: 1000,
      dates: [new Date(Date.now() + 7 * 24 * hour).toISOString()],
      room: { saleOpensAt: new Date(Date.now() + hour).toISOString(), prequeueSec: 7200, batch: 1, tickMs: 1000 },
    },
    auth,
  );
  expect(created.status).toBe(201);
  const concertId = created.body.result.concertId as number;
  const [detailId] = created.body.result.concertDetailIds as number[];
  const users = [9101, 9102, 9103, 9104, 9105, 9106];
  const tokens = new Map<number, string>();
  for (const userId of users) {
    const r = await http(gw, "POST", "/api/users/token", { userId, concertId });
    expect(r.body.result).toMatchObject({ status: "WAITING", rank: null, concertId });
    tokens.set(userId, r.body.result.token as string);
  }

  const page = await newTab(suite.context, pageErrors);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(gw + "/console");
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByLabel("Operator credential").fill(ADMIN_TOKEN);
  await page.getByLabel("Your name").fill("Bob Ops");
  await page.getByLabel("Your name").press("Enter");
  await page.waitForSelector('body[data-signed-in="true"]');

  // 1. listed after the general room, with its own figures
  const card = page.locator(`[data-room="${concertId}"]`);
  const fig = async (name: string) => Number(await card.locator(`[data-fig="${name}"]`).getAttribute("data-value"));
  await page.waitForSelector(`[data-room="${concertId}"][data-sale="prequeue"] [data-fig="prequeued"][data-value="6"]`);
  expect(await page.locator("[data-room]").evaluateAll((cards) => cards.map((c) => c.getAttribute("data-room")))).toEqual([
    "general",
    String(concertId),
  ]);
  expect(await card.locator("h2").textContent()).toContain("Console night");
  expect(await fig("waiting")).toBe(0);
  expect(await card.locator('[data-fig="lastWait"]').textContent()).toBe("–"); // no ranks before the draw: no estimate
  expect(await card.locator('[data-fig="sale"]').textContent()).toMatch(/^pre-queue; opens .* \(in (59|60) min\)$/);
  expect(await card.locator('[data-control="open-now"]').isEnabled()).toBe(true);
  expect(await card.locator('[data-control="close-now"]').isDisabled()).toBe(true);
  // its seats: booking's per-date figures for its own date (not in the general room's table), and its live totals
  await page.waitForSelector(`[data-room="${concertId}"] [data-seats] tr[data-date="${detailId}"]`, { timeout: 10_000 });
  expect(await page.locator(`[data-room="general"] [data-seats] tr[data-date="${detailId}"]`).count()).toBe(0);
  expect(await card.locator('[data-fig="seatsLeft"]').textContent()).toBe("50 · 0 · 0");
  expect(await card.locator("[data-chart]").count()).toBe(4); // its own history (GET /admin/history?concertId=)
  await shot(page, "01-prequeue");

  const confirm = async (expected: string) => {
    await page.waitForSelector("#confirm[open]");
    expect(await page.locator("#confirm-text").textContent()).toContain(expected);
    await page.locator("#confirm-yes").click();
    await page.waitForSelector("#confirm", { state: "hidden" });
  };
  const done = (what: string) =>
    page.waitForFunction((w) => document.getElementById("notice")!.textContent.startsWith(`Done: ${w}`), what, { timeout: 10_000 });
  const room = async () => (await http(gw, "GET", `/admin/rooms/${concertId}`, undefined, auth)).body.result;

  // 2. set the opening time (90 minutes on), keyboard: Enter in the field
  const later = new Date(Date.now() + 1.5 * hour);
  later.setMilliseconds(0);
  const p = (n: number) => String(n).padStart(2, "0");
  const local = `${later.getFullYear()}-${p(later.getMonth() + 1)}-${p(later.getDate())}T${p(later.getHours())}:${p(later.getMinutes())}:${p(later.getSeconds())}`;
  const opening = card.getByLabel("Opening time (your time zone)");
  await opening.fill(local);
  await opening.press("Enter");
  await confirm(`Set the opening of Console night to`);
  await done("Set the opening of Console night");
  expect((await room()).settings.saleOpensAt).toBe(later.toISOString());

  // 3. pause the room, then open its sale now: the pre-queue is drawn into ranks 1..6, nobody admitted while paused
  await card.getByRole("button", { name: "Pause admission" }).click();
  await confirm("Pause admission in the Console night?");
  await page.waitForSelector(`[data-room="${concertId}"][data-paused="true"]`);
  expect(await page.locator('[data-room="general"]').getAttribute("data-paused")).toBe("false");
  await card.getByRole("button", { name: "Open the sale now" }).click();
  await confirm("The 6 in the pre-queue are drawn into a random order at once");
  await page.waitForSelector(`[data-room="${concertId}"][data-sale="open"] [data-fig="waiting"][data-value="6"]`, { timeout: 10_000 });
  expect(await fig("prequeued")).toBe(0);
  expect(await fig("lottery")).toBe(6);
  expect(await fig("admittedLastMinute")).toBe(0);
  expect(await card.locator('[data-fig="lastWait"]').textContent()).toBe("paused");
  const ranks = await Promise.all(
    users.map(
      async (u) => (await http(gw, "GET", `/api/users/${u}/token`, undefined, { token: tokens.get(u)! })).body.result.rank as number,
    ),
  );
  expect([...ranks].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(await card.locator('[data-control="open-now"]').isDisabled()).toBe(true);
  expect(await card.locator('[data-control="set-opening"]').isDisabled()).toBe(true); // drawn once: no second opening
  expect(await page.locator("#notice").textContent()).toBe("Done: Open the sale of Console night now.");
  await shot(page, "02-opened-paused");

  // 4. resume: its admitted-per-minute moves (one a second), its waiting falls, the last in line is told a wait
  await card.getByRole("button", { name: "Resume admission" }).click();
  await confirm("Resume admission in the Console night?");
  await page.waitForFunction(
    (id) => Number(document.querySelector(`[data-room="${id}"] [data-fig="admittedLastMinute"]`)!.getAttribute("data-value")) >= 2,
    concertId,
    { timeout: 10_000 },
  );
  const waitingNow = await fig("waiting");
  expect(waitingNow).toBeLessThan(6);
  expect(waitingNow).toBeGreaterThan(0);
  expect(await fig("lastWait")).toBeGreaterThan(0);

  // 5. its batch, in its own form (PATCH /admin/rooms/{id})
  const batch = card.getByLabel("Batch (admitted per tick)");
  await batch.fill("4");
  await batch.press("Enter");
  await confirm("Change batch 1 → 4 in the Console night?");
  await done("Change batch 1 → 4");
  expect((await room()).settings.batch).toBe(4);
  expect(await card.locator('[data-control="reset"]').count()).toBe(0); // a room's settings are its concert's: no overrides to drop

  // 6. close the sale now: new arrivals are refused SALE_CLOSED
  await page.waitForSelector(`[data-room="${concertId}"] [data-control="close-now"]:not([disabled])`);
  await card.getByRole("button", { name: "Close the sale now" }).click();
  await confirm("Close the sale of Console night now?");
  await page.waitForSelector(`[data-room="${concertId}"][data-sale="closed"]`);
  const late = await http(gw, "POST", "/api/users/token", { userId: 9199, concertId });
  expect([late.status, late.body.error.code]).toEqual([409, "SALE_CLOSED"]);
  await shot(page, "03-closed");

  // its charts draw its own samples (one per 10-s slot, the first within a slot of its making)
  await page.waitForFunction(
    (id) => /^\(now \d+\)$/.test(document.querySelector(`[data-room="${id}"] [data-chart="waiting"] .chart-last`)!.textContent),
    concertId,
    { timeout: 15_000 },
  );
  expect(await card.locator('[data-chart="sold"] .chart-last').textContent()).toMatch(/^\(now \d+\)$/);

  // 7. the audit log: every action, by Bob Ops, on this concert, newest first
  await page.waitForFunction(() => document.querySelectorAll('#audit-rows tr[data-action^="room."]').length >= 6, undefined, {
    timeout: 5_000,
  });
  const rows = await page
    .locator("#audit-rows tr")
    .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent)));
  const what = `· concert ${concertId}`;
  expect(rows.slice(0, 6).map(([, who, action]) => [who, action])).toEqual([
    ["Bob Ops", `room.update ${what}`],
    ["Bob Ops", `room.update ${what}`],
    ["Bob Ops", `room.resume ${what}`],
    ["Bob Ops", `room.update ${what}`],
    ["Bob Ops", `room.pause ${what}`],
    ["Bob Ops", `room.update ${what}`],
  ]);
  const changes = rows.slice(0, 6).map((r) => r[3]);
  expect(changes[0]).toMatch(/^saleClosesAt: null → "\d{4}-.*Z"$/);
  expect(changes[1]).toBe("batch: 1 → 4");
  expect(changes[2]).toBe("paused: true → false");
  expect(changes[3]).toMatch(new RegExp(`^saleOpensAt: "${later.toISOString()}" → "\\d{4}-.*Z"$`));
  expect(changes[4]).toBe("paused: false → true");
  expect(changes[5]).toMatch(/^saleOpensAt: "\d{4}-.*Z" → "\d{4}-.*Z"$/);
  // and the concert made straight through the admin API (no X-Operator): what was made
  expect(rows[6].slice(1)).toEqual(["(not named)", "concert.create", `concertId: ${concertId}, concertDetailIds: [${detailId}]`]);

  // 8. opening a closed sale again removes its close: new arrivals queue once more (behind nobody: FIFO)
  await card.getByRole("button", { name: "Open the sale now" }).click();
  await confirm("This also removes the close.");
  await page.waitForSelector(`[data-room="${concertId}"][data-sale="open"]`);
  expect((await room()).settings.saleClosesAt).toBeNull();
  const again = await http(gw, "POST", "/api/users/token", { userId: 9199, concertId });
  expect([again.status, again.body.result.status]).toEqual([200, "WAITING"]);

  await card.scrollIntoViewIfNeeded();
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "04-phone");
  expect(pageErrors).toEqual([]);
  await page.close();
}, 60_000);
