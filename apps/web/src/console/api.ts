// The admin API as the console uses it. Every request carries the operator credential and the
// operator's name (X-Operator: the audit log's "who"); both live only in this tab's sessionStorage.

/** Booking's seat counts for one date (GET /admin/queue `seats.dates`). */
export interface DateSeats {
  concertId: number;
  concertDetailId: number;
  startsAt: string;
  free: number;
  held: number;
  sold: number;
}

export interface BookingHealth {
  requests: number;
  errors: number;
  errorRate: number | null;
  p99Sec: number | null;
  p99AboveMax: boolean;
  windowSec: number;
}

export interface Settings {
  batch: number;
  tickMs: number;
  maxActive: number;
}

/**
 * The console's unit: a waiting room, its figures and where its controls are. Today there is one,
 * the general room; with per-concert rooms each concert's comes from GET /admin/rooms (see listRooms).
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
  seats: { at: string; dates: DateSeats[] } | null;
  booking: BookingHealth | null;
  /** the admin routes that steer this room */
  routes: { pause: string; resume: string; settings: string; history: string };
}

export interface HistorySample {
  at: number;
  waiting: number;
  active: number;
  admittedLastMinute: number;
  sold: number | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  operator: string | null;
  action: string;
  method: string;
  path: string;
  concertId: number | null;
  request?: unknown;
  outcome: string;
  before: unknown;
  after: unknown;
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

interface QueueAnswer extends Omit<Room, "id" | "concertId" | "name" | "prequeued" | "routes"> {
  totals: Record<string, number>;
}

/**
 * THE seam for rooms: every room the console shows comes from here. Today that is the general
 * room, read from GET /admin/queue and steered by the /admin/queue routes. With per-concert rooms
 * (issue 14) this becomes one GET /admin/rooms, mapped to Room the same way, with each concert's
 * routes (/admin/rooms/{concertId}/pause|resume, PATCH /admin/rooms/{concertId}).
 */
export async function listRooms(creds: Credentials): Promise<Room[]> {
  const q = await admin<QueueAnswer>(creds, "GET", "/admin/queue");
  return [
    {
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
      seats: q.seats,
      booking: q.booking,
      routes: { pause: "/admin/queue/pause", resume: "/admin/queue/resume", settings: "/admin/queue/settings", history: "/admin/history" },
    },
  ];
}

export const readHistory = (creds: Credentials, room: Room) =>
  admin<{ slotMs: number; windowMs: number; samples: HistorySample[] }>(creds, "GET", room.routes.history);

export const readAudit = (creds: Credentials, limit = 50) =>
  admin<{ entries: AuditEntry[]; next: string | null }>(creds, "GET", `/admin/audit?limit=${limit}`);
