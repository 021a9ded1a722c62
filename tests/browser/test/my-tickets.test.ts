// My tickets on the waiting-room page, in Chromium, against real booking and gateway processes:
// buy a seat, open "my tickets", cancel it through the page's own confirmation step (declined
// once, then confirmed), and see it CANCELLED with the price back on the balance; the seat is
// free again for others. Screenshots go to test-artifacts/browser/.
import { join } from "node:path";
import type { Page } from "playwright-core";
import { holdChargeAndPay, newTab, step } from "./support/browser";
import { ARTIFACTS, http } from "./support/stack";
import { browserSuite } from "./support/suite";

const queueName = `browser-tickets-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const suite = browserSuite(queueName, { booking: {}, gateway: { QUEUE_TICK_MS: "200", TOKEN_RATE_LIMIT: "0" } });
const pageErrors: string[] = [];

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
const ticket = (page: Page, reservationId: string) => page.locator(`.ticket[data-reservation-id="${reservationId}"]`);

it("shows a bought seat in my tickets and cancels it only after the page's confirmation: CANCELLED, refunded, the seat free again", async () => {
  const page = await newTab(suite.context, pageErrors);
  let dialogs = 0;
  page.on("dialog", (d) => {
    dialogs++;
    void d.dismiss();
  });
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');

  // buy seat 12 of the first date
  const date = suite.stack.db.concertDetailIds[0];
  await page.getByLabel("Your user id").fill("5151");
  await page.getByRole("button", { name: "Join the queue" }).click();
  await step(page, "dates", 15_000);
  await page.locator(`.date[data-concert-detail-id="${date}"]`).click();
  await step(page, "seats");
  const paid = page.waitForResponse((r) => r.url().endsWith("/api/payment"));
  await holdChargeAndPay(page, 12, 50_000);
  const reservationId = String(((await (await paid).json()) as { result: { reservationIds: number[] } }).result.reservationIds[0]);

  // my tickets: the seat, paid, with a Cancel button
  await page.getByRole("button", { name: "My tickets" }).click();
  await step(page, "tickets");
  await expect(ticket(page, reservationId).getAttribute("data-status")).resolves.toBe("CONFIRMED");
  await expect(ticket(page, reservationId).textContent()).resolves.toContain("seat 12, 50,000 points: paid");
  await expect(page.locator("#tickets-balance").textContent()).resolves.toBe("0 points");
  await shot(page, "12-my-tickets");

  // Cancel… asks first (in the page, no window.confirm); "Keep my ticket" sends nothing
  let cancels = 0;
  page.on("request", (r) => {
    if (r.url().endsWith(`/api/reservations/${reservationId}/cancel`)) cancels++;
  });
  await page.getByRole("button", { name: "Cancel seat 12" }).click();
  await page.waitForSelector("#cancel-confirm:not([hidden])");
  await expect(page.locator("#cancel-confirm-text").textContent()).resolves.toContain("50,000 points go back to your points");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("cancel-no");
  await shot(page, "13-cancel-confirm");
  await page.getByRole("button", { name: "Keep my ticket" }).click();
  await page.waitForSelector("#cancel-confirm", { state: "hidden" });
  expect(cancels).toBe(0);

  // confirmed: CANCELLED, refunded, the balance back
  await page.getByRole("button", { name: "Cancel seat 12" }).click();
  await page.getByRole("button", { name: "Yes, cancel and refund" }).click();
  await page.waitForSelector(`.ticket[data-reservation-id="${reservationId}"][data-status="CANCELLED"]`);
  await expect(ticket(page, reservationId).textContent()).resolves.toContain("cancelled (50,000 points refunded)");
  await expect(page.locator("#tickets-balance").textContent()).resolves.toBe("50,000 points");
  await expect(page.locator("#notice").textContent()).resolves.toContain("Ticket cancelled: 50,000 points refunded");
  await expect(page.getByRole("button", { name: "Cancel seat 12" }).count()).resolves.toBe(0);
  await shot(page, "14-cancelled");
  expect([cancels, dialogs]).toEqual([1, 0]);

  // as booking sees it: cancelled, and the seat free for the next buyer
  const list = await http(suite.stack.gateway.url, "GET", "/api/users/5151/reservations");
  expect(list.body.result.reservations[0]).toMatchObject({ status: "CANCELLED", seatId: 12, refund: { amount: 50_000 } });
  const other = await http(suite.stack.gateway.url, "POST", "/api/users/token", { userId: 5252 });
  const token = other.body.result.token as string;
  for (let i = 0; i < 100; i++) {
    const polled = await http(suite.stack.gateway.url, "GET", "/api/users/5252/token", undefined, { token });
    if (polled.body.result?.status === "IN_PROGRESS") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const free = await http(suite.stack.gateway.url, "GET", `/api/concert/${date}/seat`, undefined, { token });
  expect(free.body.result).toContain(12);
  expect(pageErrors).toEqual([]);
  await page.close();
}, 90_000);

it("opens my tickets from the form without joining the queue", async () => {
  const page = await newTab(suite.context, pageErrors);
  await page.goto(suite.stack.gateway.url + "/");
  await page.waitForSelector('body[data-ready="true"]');
  const joins: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/api/users/token")) joins.push(r.url());
  });
  await page.getByLabel("Your user id").fill("5353");
  await page.getByRole("button", { name: "My tickets" }).click();
  await step(page, "tickets");
  await expect(page.locator("#ticket-list").textContent()).resolves.toContain("No tickets yet.");
  expect(joins).toEqual([]);
  expect(pageErrors).toEqual([]);
  await page.close();
}, 30_000);
