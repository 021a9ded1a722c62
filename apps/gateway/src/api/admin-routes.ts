import { Router, type Request, type RequestHandler, type Response } from "express";
import { z } from "zod";
import {
  AUDIT_PAGE,
  AppError,
  admissionSettings,
  concertIdPath,
  ok,
  parseOr400,
  requireBearer,
  type AdmissionSettings,
  type InventorySnapshot,
  type QueueStore,
} from "@concert/shared";
import { operatorOf, type AuditLog } from "../console/audit-log";
import type { BookingHealth } from "../console/booking-health";
import type { History } from "../console/history";
import type { Forwarder } from "../forward/forwarder";
import type { Rooms } from "../queue/rooms";
import { roomAdminRoutes } from "./room-admin-routes";

const settingsBody = z
  .strictObject(admissionSettings.partial().shape)
  .refine((b) => Object.keys(b).length > 0, { message: `give at least one of ${admissionSettings.keyof().options.join(", ")}` });

/** GET /admin/history: the general room's, or `?concertId=` a concert room's */
const historyQuery = z.strictObject({ concertId: concertIdPath.shape.concertId.optional() });

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(AUDIT_PAGE.max).default(AUDIT_PAGE.default),
  before: z
    .string()
    .regex(/^\d{1,15}-\d{1,15}$/, "an entry id from a previous page (`next`)")
    .optional(),
});

/** Marks the handlers the audit loop registered (a test checks that every admin write route has it). */
export const AUDITED = Symbol("audited");

/**
 * An operator action: one row of the table below. Every row is registered by one loop that wraps
 * it in the audit log (who, when, what, the room's controls before → after, applied or refused),
 * so a write route added here is audited by being added, with no audit code of its own.
 */
export interface AdminWrite {
  method: "post" | "patch" | "delete";
  path: string;
  /** the audit log's `action` */
  action: string;
  /** the room acted on (null: the general room, or a concert not made yet) */
  room(req: Request): number | null;
  /**
   * what the action changes, read just before and just after it (the audit's before → after);
   * after, `result` is what `apply` returned. Default: the general room's controls.
   */
  controls?: (req: Request, result?: unknown) => Promise<unknown>;
  /** changes it (throws an AppError to refuse, changing nothing); returns the parsed request body and a result for the answer */
  apply(req: Request): Promise<{ request?: unknown; result?: unknown } | void>;
  /** the answer (default: the general room's figures) */
  answer?: (req: Request, res: Response, result: unknown) => Promise<void> | void;
}

export interface AdminDeps {
  store: QueueStore;
  token: string;
  configured: AdmissionSettings;
  audit: AuditLog;
  history?: History;
  /** booking's latest seat counts per date (null when it has written none lately) */
  inventory?: () => Promise<InventorySnapshot | null>;
  bookingHealth?: BookingHealth;
  /** the queue's wait estimate for a rank (the same one users are told) */
  estimateWait?: (rank: number, measuredPerSec: number | null) => number;
  /** the concert rooms' operator routes (api/room-admin-routes.ts) */
  rooms?: { rooms: Rooms; forwarder: Forwarder };
}

/**
 * Operator controls, shared by every instance through Redis: queue stats, pause/resume admission,
 * live batch / tick / max-active overrides, the audit log of every one of those actions and the
 * console's history. Mounted only when ADMIN_TOKEN is set.
 */
export function adminRoutes({
  store,
  token,
  configured,
  audit,
  history,
  inventory,
  bookingHealth,
  estimateWait,
  rooms,
}: AdminDeps): Router {
  const router = Router();
  router.use("/admin", requireBearer(token, "ADMIN_TOKEN", "Operator routes"));

  /** the general room's controls: what an operator action changes, recorded before and after */
  const controls = async () => {
    const overrides = await store.getOverrides();
    const { paused, ...set } = overrides;
    const settings = {
      batch: set.batch ?? configured.batch,
      tickMs: set.tickMs ?? configured.tickMs,
      maxActive: set.maxActive ?? configured.maxActive,
    };
    const overridden = Object.keys(set).filter((k) => set[k as keyof typeof set] !== undefined);
    return { paused, settings, overridden };
  };
  const view = async () => {
    const [stats, c, seats, booking, rate] = await Promise.all([
      store.stats(),
      controls(),
      inventory?.() ?? null,
      bookingHealth?.read() ?? null,
      store.measuredRate(),
    ]);
    // the last in line: the estimate they are told (none while paused: nobody moves)
    const lastWaitSec = stats.waiting === 0 ? 0 : c.paused || !estimateWait ? null : estimateWait(stats.waiting, rate);
    return { ...stats, lastWaitSec, paused: c.paused, settings: c.settings, configured, seats, booking };
  };
  const general = () => null;

  const writes: AdminWrite[] = [
    {
      method: "post",
      path: "/admin/queue/pause",
      action: "queue.pause",
      room: general,
      apply: () => store.setOverrides({ paused: true }),
    },
    {
      method: "post",
      path: "/admin/queue/resume",
      action: "queue.resume",
      room: general,
      apply: () => store.setOverrides({ paused: false }),
    },
    {
      method: "patch",
      path: "/admin/queue/settings",
      action: "queue.settings.update",
      room: general,
      apply: async (req) => {
        const body = parseOr400(settingsBody, req.body);
        await store.setOverrides(body);
        return { request: body };
      },
    },
    { method: "delete", path: "/admin/queue/settings", action: "queue.settings.reset", room: general, apply: () => store.clearOverrides() },
  ];
  const roomRoutes = rooms && roomAdminRoutes(rooms.rooms, rooms.forwarder);
  if (roomRoutes) writes.push(...roomRoutes.writes);

  for (const w of writes) {
    const handler: RequestHandler = async (req, res) => {
      const operator = operatorOf(req); // a bad X-Operator refuses the action before anything is read or changed
      const concertId = w.room(req);
      const snapshot = (r: Request, result?: unknown) => (w.controls ? w.controls(r, result) : controls());
      const before = await snapshot(req);
      const entry = { operator, action: w.action, method: req.method, path: req.path, concertId, requestId: req.id as string | undefined };
      let applied: { request?: unknown; result?: unknown } | void;
      try {
        applied = await w.apply(req);
      } catch (err) {
        // a refusal changed nothing: recorded with its code (a dependency failure is not an action)
        if (err instanceof AppError && err.status < 500) {
          await audit.append({ ...entry, request: req.body, outcome: err.code, before, after: before });
        }
        throw err;
      }
      const after = await snapshot(req, applied?.result);
      const request = applied?.request;
      await audit.append({ ...entry, ...(request === undefined ? {} : { request }), outcome: "applied", before, after });
      if (w.answer) await w.answer(req, res, applied?.result);
      else res.json(ok(await view()));
    };
    router[w.method](w.path, Object.assign(handler, { [AUDITED]: w.action }));
  }

  if (roomRoutes) router.use(roomRoutes.reads);
  router.get("/admin/queue", async (_req, res) => {
    res.json(ok(await view()));
  });
  router.get("/admin/audit", async (req, res) => {
    const q = parseOr400(auditQuery, req.query, "query");
    res.json(ok(await audit.page(q.limit, q.before)));
  });
  if (history) {
    router.get("/admin/history", async (req, res) => {
      const { concertId } = parseOr400(historyQuery, req.query, "query");
      res.json(ok(await history.read(concertId)));
    });
  }
  return router;
}
