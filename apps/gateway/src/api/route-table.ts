import { z } from "zod";
import {
  ROUTES,
  cancelView,
  ticketList,
  holdView,
  multiHoldView,
  paymentView,
  reservationView,
  pointView,
  performanceList,
  seatList,
  tokenView,
  type RouteContract,
  type RouteName,
} from "@concert/shared";

/**
 * What a caller must show to use a route:
 * - "open": nothing (the point routes, as the seed says; joining the queue);
 * - "token": a queue token (`token` header); for forwarded routes an active one whose user is the
 *   user the request names.
 * Who the user is, in AUTH_MODE=jwt, is the separate `verifiedUser` fact of an entry.
 */
export type Access = "open" | "token";

/**
 * Where a route is served:
 * - "hot": on plain node:http ahead of Express in its canonical form (api/hot-routes.ts), every
 *   other form by the Express handler of the same name;
 * - "express": by the gateway's Express handler of the same name;
 * - "booking": forwarded to booking with a passport (api/forward-routes.ts), on the hot path too
 *   in its canonical form (a `readModel` route answered there from the model), every other form
 *   through Express; both run the same forward.
 */
export type Served = "hot" | "express" | "booking";

/** The OpenAPI description of a route's answers. */
export interface RouteDoc {
  summary: string;
  /** the success answer's result (inside the envelope), or a non-JSON body with its media type */
  ok: z.ZodType | { contentType: string; schema: z.ZodType };
  okStatus?: number;
  okDescription: string;
  /** the 4xx statuses it can answer (503 is added to every route) */
  errors: number[];
}

export interface GatewayRoute extends RouteContract {
  name: RouteName;
  access: Access;
  served: Served;
  /** log level of a successful answer (refusals log at info, failures at error) */
  successLog: "info" | "debug";
  /** a token already used for a payment may still call this route (a retry of that payment) */
  replayWindow?: true;
  /** holds refused at the edge, before booking (the forward, on either path), when booking's Redis seat gate already has the seat (and single-flight per seat) */
  seatGate?: true;
  /** makes a seat hold: counted against the client address's hold rate and live holds (forward/client-holds.ts) */
  clientHoldCaps?: true;
  /** ends a hold: its place among the client address's live holds is given back on success */
  releasesHold?: true;
  /**
   * A booking read answered on the hot path from booking's seat-availability read model in Redis
   * (forward/seat-map-reader.ts), after the same token checks as a forward; forwarded as usual
   * while the model is not built (booking then builds it) and in every non-canonical form.
   */
  readModel?: "seats" | "dates";
  /**
   * AUTH_MODE=jwt: needs `Authorization: Bearer <JWT>`, and the user the request names must be
   * the verified one (auth/identity.ts). Together with "token" access, the token must be that user's.
   */
  verifiedUser?: true;
  /** where the request names its user, from its contract: the path's `:userId`, the body's `userId`, or nowhere */
  userAt: "path" | "body" | null;
  doc: RouteDoc;
}

/** Where a route's contract names the user (its schemas are the one place that says so). */
function userAt(contract: RouteContract): GatewayRoute["userAt"] {
  if (contract.params?.shape.userId !== undefined) return "path";
  const body = contract.body as { shape?: Record<string, unknown> } | undefined;
  return body?.shape?.userId !== undefined ? "body" : null;
}

const route = (name: RouteName, facts: Omit<GatewayRoute, "name" | "userAt" | keyof RouteContract>): GatewayRoute => ({
  name,
  ...ROUTES[name],
  userAt: userAt(ROUTES[name]),
  ...facts,
});

/**
 * Every public route of the gateway, once. Express registration (app.ts), the hot matcher
 * (hot-routes.ts), the forward list (forward-routes.ts), the OpenAPI document (openapi.ts) and
 * the metrics' route labels (each entry's Express `path`) all read this table.
 */
export const ROUTE_TABLE: readonly GatewayRoute[] = [
  route("issueToken", {
    verifiedUser: true,
    access: "open",
    served: "hot",
    successLog: "info",
    doc: {
      summary: "Join the queue (or, presenting your live token in the `token` header, get your place back)",
      ok: tokenView,
      okDescription: "The user's token, status, rank (1 = next in) and estimated wait",
      errors: [400, 409, 413, 429],
    },
  }),
  route("pollToken", {
    verifiedUser: true,
    access: "token",
    served: "hot",
    // a waiting client's poll is its heartbeat: thousands a second, counted in the metrics and
    // logged only at debug when it succeeds (refusals are logged like every other request)
    successLog: "debug",
    doc: {
      summary: "Poll a token: status, rank and estimated wait (also the waiting token's heartbeat)",
      ok: tokenView,
      okDescription: "WAITING with a rank, IN_PROGRESS once admitted, FINISHED when expired, evicted or used",
      errors: [400, 401, 403],
    },
  }),
  route("queueStream", {
    access: "token",
    served: "express",
    successLog: "info",
    doc: {
      summary: "Server-Sent Events: the token's status, rank and wait whenever they change (instead of polling)",
      ok: { contentType: "text/event-stream", schema: z.string() },
      okDescription: "An event stream; each `data:` frame is `{status, rank, estimatedWaitSec}`; it ends after IN_PROGRESS or FINISHED",
      errors: [400, 401, 403, 429],
    },
  }),
  route("concertDates", {
    verifiedUser: true,
    access: "token",
    served: "booking",
    readModel: "dates",
    // every admitted user reloads it after each refusal: counted in the metrics, and logged at
    // debug when it succeeds, like the poll (refusals are logged like every other request)
    successLog: "debug",
    doc: {
      summary: "Future performances of a concert that still have a free seat",
      ok: performanceList,
      okDescription: "The concert's name and its bookable dates",
      errors: [400, 401, 403, 404],
    },
  }),
  route("freeSeats", {
    verifiedUser: true,
    access: "token",
    served: "booking",
    readModel: "seats",
    // every admitted user reloads it after each refusal: counted in the metrics, and logged at
    // debug when it succeeds, like the poll (refusals are logged like every other request)
    successLog: "debug",
    doc: {
      summary: "Free seat numbers (1-50) of one performance",
      ok: seatList,
      okDescription: "Seats neither sold nor held by an unexpired hold",
      errors: [400, 401, 403, 404],
    },
  }),
  route("holdSeat", {
    verifiedUser: true,
    access: "token",
    served: "booking",
    successLog: "info",
    seatGate: true,
    clientHoldCaps: true,
    doc: {
      summary: "Hold a seat (`seatId`), or several at once, all or none (`seatIds`), for SEAT_HOLD_TTL_SEC (default 5 minutes)",
      ok: z.union([holdView, multiHoldView]),
      okStatus: 201,
      okDescription: "The hold (`seatId`), or `{reservations, expiresAt}` with one hold per seat (`seatIds`); pay before expiresAt",
      errors: [400, 401, 403, 404, 409, 413, 429],
    },
  }),
  route("chargePoints", {
    verifiedUser: true,
    access: "open",
    served: "booking",
    successLog: "info",
    doc: {
      summary: "Charge points (no queue token needed)",
      ok: pointView,
      okDescription: "The new balance",
      errors: [400, 409, 413],
    },
  }),
  route("readPoints", {
    verifiedUser: true,
    access: "open",
    served: "booking",
    successLog: "info",
    doc: {
      summary: "Read a balance (no queue token needed)",
      ok: pointView,
      okDescription: "The balance (0 for unknown users)",
      errors: [400],
    },
  }),
  route("pay", {
    verifiedUser: true,
    access: "token",
    served: "booking",
    successLog: "info",
    replayWindow: true,
    doc: {
      summary: "Pay one or several holds; finishes the queue token",
      ok: paymentView,
      okDescription: "The payment; seats are confirmed",
      errors: [400, 401, 403, 404, 409, 413],
    },
  }),
  // issue 15: cancel and refund, my tickets (no queue token: people cancel days later)
  route("cancelReservation", {
    verifiedUser: true,
    access: "open",
    served: "booking",
    successLog: "info",
    doc: {
      summary:
        "Cancel a paid reservation until CANCEL_DEADLINE_SEC before the performance; its price goes back to the balance (no queue token needed)",
      ok: cancelView,
      okDescription:
        "CANCELLED, the REFUND and the balance after it; the seat is free again. The same Idempotency-Key gets the same answer",
      errors: [400, 403, 404, 409, 413],
    },
  }),
  route("myReservations", {
    verifiedUser: true,
    access: "open",
    served: "booking",
    successLog: "info",
    doc: {
      summary: "The user's reservations (held, confirmed, cancelled, expired), newest first, in pages (no queue token needed)",
      ok: ticketList,
      okDescription: "One page; pass nextCursor as `before` for the next",
      errors: [400],
    },
  }),
  route("releaseHold", {
    verifiedUser: true,
    access: "token",
    served: "booking",
    successLog: "info",
    releasesHold: true,
    doc: {
      summary: "Release your hold of a seat at once (the seat is free again)",
      ok: reservationView,
      okDescription:
        "The reservation, now EXPIRED (its hold ended by its owner); 409 NOT_HELD when it no longer was a live hold, ALREADY_PAID when paid",
      errors: [400, 401, 403, 404, 409],
    },
  }),
];
