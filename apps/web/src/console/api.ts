// The admin API as the console uses it. Every request carries the operator credential and the
// operator's name (X-Operator: the audit log's "who"); both live only in this tab's sessionStorage.

// Answer shapes come from @concert/shared (type-only: nothing of it reaches the browser bundle).
import type { AuditEntry, BookingHealthView as BookingHealth, HistorySample, PerformanceSeats as DateSeats } from "@concert/shared";

export type { AuditEntry, BookingHealth, DateSeats, HistorySample };

export interface Settings {
  batch: number;
  tickMs: number;
  maxActive: number;
}

/** A concert room's scheduled sale (GET /admin/rooms `settings`); null fields: not scheduled. */
export interface Sale {
  /** ISO 8601: the opening (its lottery); null: open since the room was made */
  opensAt: string | null;
  /** ISO 8601: the close; null: none */
  closesAt: string | null;
  /** the pre-queue opens this many seconds before `opensAt` (null without a scheduled opening) */
  prequeueSec: number | null;
}

/** The opening's lottery as GET /admin/rooms summarizes it (the participants' ids are in GET /admin/rooms/{id}). */
export interface LotterySummary {
  participants: number;
  drawnAt: string;
  drawnBy: string;
  seed: string;
}

/**
 * The console's unit: a waiting room, its figures and where its controls are. The general room
 * comes from GET /admin/queue, every concert's own room from GET /admin/rooms (see listRooms).
 */
export interface Room {
  /** "general", or the concert id */
  id: string;
  concertId: number | null;
  name: string;
  waiting: number;
  /** waiting for a scheduled opening (null: the room has no pre-queue) */
  prequeued: number | null;
  active: number;
  admittedLastMinute: number;
  lastWaitSec: number | null;
  oldestWaitSec: number | null;
  paused: boolean;
  settings: Settings;
  configured: Settings;
  /** booking's seats per date (the room's dates: a concert room its concert's, the general room those of concerts without a room) */
  seats: { at: string; dates: DateSeats[] } | null;
  /** a concert room's free / held / sold seats over its future dates, as booking keeps them on every seat change (null: general room, or not counted yet) */
  inventory: { free: number; held: number; sold: number } | null;
  /** a concert room's scheduled sale (null: the general room, always open) */
  sale: Sale | null;
  lottery: LotterySummary | null;
  /** booking's health: one figure for every room (booking serves them all) */
  booking: BookingHealth | null;
  /** the admin routes that steer this room (null: the room has no such route) */
  routes: { pause: string; resume: string; settings: string; reset: string | null; history: string };
}

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Credentials {
  token: string;
  operator: string;
}

const KEY = "concert.console.credentials";

export const session = {
  load(): Credentials | null {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    try {
      const c = JSON.parse(raw) as Credentials;
      return typeof c.token === "string" && typeof c.operator === "string" ? c : null;
    } catch {
      return null;
    }
  },
  save(c: Credentials): void {
    sessionStorage.setItem(KEY, JSON.stringify(c));
  },
  clear(): void {
    sessionStorage.removeItem(KEY);
  },
};

export async function admin<T>(creds: Credentials, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${creds.token}`,
        "x-operator": creds.operator,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new AdminError(0, "NETWORK", "The gateway could not be reached");
  }
  const envelope = (await res.json().catch(() => null)) as { result: T; error: { code: string; message: string } | null } | null;
  if (!res.ok || !envelope || envelope.error) {
    throw new AdminError(res.status, envelope?.error?.code ?? "HTTP_" + res.status, envelope?.error?.message ?? res.statusText);
  }
  return envelope.result;
}

interface QueueAnswer extends Omit<Room, "id" | "concertId" | "name" | "prequeued" | "routes" | "inventory" | "sale" | "lottery"> {
  totals: Record<string, number>;
}

/** One concert room of GET /admin/rooms. */
interface RoomAnswer {
  concertId: number;
  name: string;
  settings: Settings & { saleOpensAt: string | null; saleClosesAt: string | null; prequeueSec: number | null };
  paused: boolean;
  prequeued: number;
  waiting: number;
  active: number;
  admittedLastMinute: number;
  oldestWaitSec: number | null;
  lastWaitSec: number | null;
  seats: { free: number; held: number; sold: number } | null;
  lottery: LotterySummary | null;
}

/**
 * Every room the console shows: the general room (GET /admin/queue, steered by the /admin/queue
 * routes) first, then each concert's own room (GET /admin/rooms, steered by
 * /admin/rooms/{concertId}/pause|resume and PATCH /admin/rooms/{concertId}). Booking's seats per
 * date and its health come with the general room's answer; each room shows its own dates.
 */
export async function listRooms(creds: Credentials): Promise<Room[]> {
  const [q, { rooms }] = await Promise.all([
    admin<QueueAnswer>(creds, "GET", "/admin/queue"),
    admin<{ rooms: RoomAnswer[] }>(creds, "GET", "/admin/rooms"),
  ]);
  const own = new Set(rooms.map((r) => r.concertId));
  const datesOf = (keep: (d: DateSeats) => boolean) => q.seats && { at: q.seats.at, dates: q.seats.dates.filter(keep) };
  const general: Room = {
    id: "general",
    concertId: null,
    name: "General room",
    waiting: q.waiting,
    prequeued: null,
    active: q.active,
    admittedLastMinute: q.admittedLastMinute,
    lastWaitSec: q.lastWaitSec,
    oldestWaitSec: q.oldestWaitSec,
    paused: q.paused,
    settings: q.settings,
    configured: q.configured,
    seats: datesOf((d) => !own.has(d.concertId)),
    inventory: null,
    sale: null,
    lottery: null,
    booking: q.booking,
    routes: {
      pause: "/admin/queue/pause",
      resume: "/admin/queue/resume",
      settings: "/admin/queue/settings",
      reset: "/admin/queue/settings",
      history: "/admin/history",
    },
  };
  return [
    general,
    ...rooms
      .sort((a, b) => a.concertId - b.concertId)
      .map((r): Room => {
        const base = `/admin/rooms/${r.concertId}`;
        const settings = { batch: r.settings.batch, tickMs: r.settings.tickMs, maxActive: r.settings.maxActive };
        return {
          id: String(r.concertId),
          concertId: r.concertId,
          name: r.name,
          waiting: r.waiting,
          prequeued: r.prequeued,
          active: r.active,
          admittedLastMinute: r.admittedLastMinute,
          lastWaitSec: r.lastWaitSec,
          oldestWaitSec: r.oldestWaitSec,
          paused: r.paused,
          settings,
          // a room's settings are stored with its concert: what is in force is what is configured
          configured: settings,
          seats: datesOf((d) => d.concertId === r.concertId),
          inventory: r.seats,
          sale: { opensAt: r.settings.saleOpensAt, closesAt: r.settings.saleClosesAt, prequeueSec: r.settings.prequeueSec },
          lottery: r.lottery,
          booking: q.booking,
          routes: {
            pause: `${base}/pause`,
            resume: `${base}/resume`,
            settings: base,
            reset: null,
            history: `/admin/history?concertId=${r.concertId}`,
          },
        };
      }),
  ];
}

export const readHistory = (creds: Credentials, path: string) =>
  admin<{ slotMs: number; windowMs: number; samples: HistorySample[] }>(creds, "GET", path);

export const readAudit = (creds: Credentials, limit = 50) =>
  admin<{ entries: AuditEntry[]; next: string | null }>(creds, "GET", `/admin/audit?limit=${limit}`);
