import { existsSync } from "node:fs";
import { join } from "node:path";
import express, { Router } from "express";
import type { Logger } from "@concert/shared";

/** apps/web/dist (the waiting-room page, built by `pnpm build`), seen from apps/gateway/{src,dist}/api. */
export const DEFAULT_WEB_ROOT = join(__dirname, "..", "..", "..", "web", "dist");

/**
 * The waiting-room page at `/` and the operator console at `/console`: apps/web's Vite build. Mounted after the API routes, so those
 * keep priority. Hashed files under /assets are cached for a year, everything else revalidates.
 */
export function webPage(root: string = DEFAULT_WEB_ROOT, logger?: Logger): Router {
  const router = Router();
  if (!existsSync(join(root, "index.html"))) {
    logger?.warn({ root }, "waiting-room page not built (run pnpm build); / answers 404");
    return router;
  }
  router.use("/assets", express.static(join(root, "assets"), { index: false, immutable: true, maxAge: "365d" }));
  // the operator console (the same build): its data comes only from the /admin routes
  router.get("/console", (_req, res) => {
    res.setHeader("cache-control", "no-cache");
    res.sendFile(join(root, "console.html"));
  });
  router.use(
    express.static(root, {
      index: "index.html",
      setHeaders: (res) => res.setHeader("cache-control", "no-cache"),
    }),
  );
  return router;
}
