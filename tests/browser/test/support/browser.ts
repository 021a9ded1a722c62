import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

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
