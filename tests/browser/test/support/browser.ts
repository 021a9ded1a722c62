import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";

/** Debian's chromium; playwright-core cannot download a browser on this machine. */
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Fails loudly (never skips) when the browser is not installed. */
export function assertChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM}, which is missing. Install it with ` +
        "`apt-get update && apt-get install -y chromium` (.ci/run does this), or set CHROMIUM_PATH.",
    );
  }
}

/** Chromium with a fresh --user-data-dir, phone-sized, headless. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  assertChromium();
  const profile = mkdtempSync(join(tmpdir(), "browser-test-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: false,
    hasTouch: false,
    locale: "en-GB",
    timezoneId: "UTC",
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A new tab whose uncaught errors and console errors go to `errors` (but for refused requests,
 * which show as console errors in Chromium and which the page handles itself).
 */
export async function newTab(context: BrowserContext, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource|EventSource/.test(m.text())) errors.push(m.text());
  });
  return page;
}

/** Waits until the page shows a step (`body[data-step]`). */
export const step = (page: Page, name: string, timeout = 5_000) => page.waitForSelector(`body[data-step="${name}"]`, { timeout });

/** Waits until the page shows a refusal's alert (`body[data-error]`). */
export const errorShown = (page: Page, code: string, timeout = 5_000) =>
  page.waitForSelector(`body[data-error="${code}"] #alert:not([hidden])`, { timeout });

/** On the seat map: picks the seat, holds it, charges `points` (Enter in the field), pays, and waits for the confirmation. */
export async function holdChargeAndPay(page: Page, seatNo: number, points: number): Promise<void> {
  await page.locator(`.seat[data-seat="${seatNo}"]`).click();
  await page.locator("#hold-button").click();
  await step(page, "hold");
  await page.locator("#charge-amount").fill(String(points));
  await page.locator("#charge-amount").press("Enter");
  await page.waitForFunction(
    (text) => document.getElementById("balance")!.textContent === text,
    `${points.toLocaleString("en-GB")} points`,
  );
  await page.locator("#pay-button").click();
  await step(page, "done");
}
