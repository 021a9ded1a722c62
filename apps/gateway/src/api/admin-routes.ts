import { Router } from "express";
import { z } from "zod";
import { admissionSettings, ok, parseOr400, requireBearer, type AdmissionSettings, type QueueStore } from "@concert/shared";
import type { Forwarder } from "../forward/forwarder";
import type { Rooms } from "../queue/rooms";
import { roomAdminRoutes } from "./room-admin-routes";

const settingsBody = z
  .strictObject(admissionSettings.partial().shape)
  .refine((b) => Object.keys(b).length > 0, { message: `give at least one of ${admissionSettings.keyof().options.join(", ")}` });

/**
 * Operator controls, shared by every instance through Redis: queue stats, pause/resume admission,
 * and live batch / tick / max-active overrides. Mounted only when ADMIN_TOKEN is set.
 */
export function adminRoutes(
  store: QueueStore,
  adminToken: string,
  configured: AdmissionSettings,
  /** the concert rooms' operator routes (api/room-admin-routes.ts) */
  rooms?: { rooms: Rooms; forwarder: Forwarder },
): Router {
  const router = Router();
  router.use("/admin", requireBearer(adminToken, "ADMIN_TOKEN", "Operator routes"));
  if (rooms) router.use(roomAdminRoutes(rooms.rooms, rooms.forwarder));

  const view = async () => {
    const [stats, overrides] = await Promise.all([store.stats(), store.getOverrides()]);
    const settings = {
      batch: overrides.batch ?? configured.batch,
      tickMs: overrides.tickMs ?? configured.tickMs,
      maxActive: overrides.maxActive ?? configured.maxActive,
    };
    return { ...stats, paused: overrides.paused, settings, configured };
  };

  router.get("/admin/queue", async (_req, res) => {
    res.json(ok(await view()));
  });
  router.post("/admin/queue/pause", async (_req, res) => {
    await store.setOverrides({ paused: true });
    res.json(ok(await view()));
  });
  router.post("/admin/queue/resume", async (_req, res) => {
    await store.setOverrides({ paused: false });
    res.json(ok(await view()));
  });
  router.patch("/admin/queue/settings", async (req, res) => {
    await store.setOverrides(parseOr400(settingsBody, req.body));
    res.json(ok(await view()));
  });
  router.delete("/admin/queue/settings", async (_req, res) => {
    await store.clearOverrides();
    res.json(ok(await view()));
  });
  return router;
}
