// The gateway's API as the page uses it: every answer is the envelope { result, error }.

// Answer shapes come from the zod schemas the apps validate with (type-only: nothing of
// @concert/shared reaches the browser bundle).
import type {
  CancelView,
  HoldView,
  MultiHoldView,
  PaymentView,
  ReservationView,
  QueueStreamEvent,
  PerformanceList,
  RoomView,
  TicketList,
  TokenView,
} from "@concert/shared";
import { ROOMS_PATH, pathOf } from "./shared";

export type { RoomView, TokenView };
export type QueueUpdate = QueueStreamEvent;
export type Performances = PerformanceList;
export type Hold = HoldView;
export type HeldTogether = MultiHoldView;
export type Payment = PaymentView;
export type Tickets = TicketList;
export type Cancelled = CancelView;

/** A refusal from the gateway or booking (code from the envelope), or NETWORK when none came. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface Answer<T> {
  result: T;
  /** the server's clock when it answered (Date header), for countdowns */
  serverNow: number;
}

interface CallOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** no bearer of the embedding site (a public listing) */
  anonymous?: true;
}

/**
 * What an embedding site provides when the gateway runs in jwt mode (README, "Embedding the
 * waiting room in jwt mode"): its signed-in user's JWT, asked for before every request, so the
 * site may refresh it as it expires.
 */
export interface TicketingAuth {
  getBearer(): string | Promise<string>;
}

declare global {
  interface Window {
    ticketingAuth?: TicketingAuth;
  }
}

/**
 * The Authorization header of the embedding site's bearer; none without a site's `ticketingAuth`
 * (none mode) or when it has no bearer to give (throws, or gives nothing): the request goes
 * without and the gateway's AUTH_REQUIRED says to sign in on the site.
 */
async function authorization(): Promise<Record<string, string>> {
  const auth = window.ticketingAuth;
  if (!auth) return {};
  try {
    const bearer = await auth.getBearer();
    return typeof bearer === "string" && bearer !== "" ? { authorization: `Bearer ${bearer}` } : {};
  } catch {
    return {};
  }
}

export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<Answer<T>> {
  // a public listing names no user: the site's bearer is not asked for (nor spent) for it
  const bearer = options.anonymous ? {} : await authorization();
  const headers: Record<string, string> = { accept: "application/json", ...options.headers, ...bearer };
  if (options.token) headers.token = options.token;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  } catch {
    throw new ApiError("NETWORK", "Cannot reach the ticket service. Check your connection and try again.", 0);
  }
  let envelope: { result: T | null; error: { code: string; message: string; details?: Record<string, unknown> } | null };
  try {
    envelope = (await res.json()) as typeof envelope;
  } catch {
    throw new ApiError("SERVICE_UNAVAILABLE", `The ticket service answered ${res.status} without a readable body.`, res.status);
  }
  if (!res.ok || envelope.error) {
    const e = envelope.error ?? { code: "INTERNAL", message: `HTTP ${res.status}` };
    throw new ApiError(e.code, e.message, res.status, e.details);
  }
  const date = Date.parse(res.headers.get("date") ?? "");
  return { result: envelope.result as T, serverNow: Number.isNaN(date) ? Date.now() : date };
}

export const api = {
  /** `token`: the one this tab had for the user, the proof that gets a live place back (else 409 ALREADY_QUEUED) */
  join: (userId: number, token?: string, concertId?: number) =>
    call<TokenView>("POST", pathOf("issueToken"), { body: concertId === undefined ? { userId } : { userId, concertId }, token }),
  rooms: () => call<{ rooms: RoomView[] }>("GET", ROOMS_PATH, { anonymous: true }),
  poll: (userId: number, token: string) => call<TokenView>("GET", pathOf("pollToken", { userId }), { token }),
  dates: (concertId: number, token: string) => call<Performances>("GET", pathOf("concertDates", { concertId }), { token }),
  freeSeats: (concertDetailId: number, token: string) => call<number[]>("GET", pathOf("freeSeats", { concertDetailId }), { token }),
  hold: (userId: number, concertDetailId: number, seatId: number, token: string) =>
    call<Hold>("POST", pathOf("holdSeat"), { token, body: { concertDetailId, userId, seatId } }),
  holdTogether: (userId: number, concertDetailId: number, seatIds: readonly number[], token: string) =>
    call<HeldTogether>("POST", pathOf("holdSeat"), { token, body: { concertDetailId, userId, seatIds } }),
  release: (reservationId: number, token: string) => call<ReservationView>("DELETE", pathOf("releaseHold", { reservationId }), { token }),
  balance: (userId: number) => call<{ userId: number; point: number }>("GET", pathOf("readPoints", { userId })),
  charge: (userId: number, point: number) =>
    call<{ userId: number; point: number }>("PATCH", pathOf("chargePoints"), { body: { userId, point } }),
  /** one reservation is paid in the seed's `reservationId` form, several as `reservationIds` */
  pay: (userId: number, reservationIds: readonly number[], token: string, idempotencyKey: string) =>
    call<Payment>("POST", pathOf("pay"), {
      token,
      body: reservationIds.length === 1 ? { reservationId: reservationIds[0], userId } : { reservationIds, userId },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  tickets: (userId: number) => call<Tickets>("GET", pathOf("myReservations", { userId })),
  cancel: (userId: number, reservationId: number, idempotencyKey: string) =>
    call<Cancelled>("POST", pathOf("cancelReservation", { reservationId }), {
      body: { userId },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
};
