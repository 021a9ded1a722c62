import type { z } from "zod";
import {
  chargeBody,
  concertDetailIdPath,
  concertIdPath,
  issueTokenBody,
  paymentBody,
  paymentHeaders,
  queueStreamQuery,
  reserveBody,
  userIdPath,
} from "./api";

/**
 * What both apps (and any client) must agree on about one public route: its method, its path in
 * Express's `:param` form (also the metrics' route label), and the schemas of what it reads.
 * The gateway's route table adds where and how it serves each one (apps/gateway/src/api/route-table.ts).
 */
export interface RouteContract {
  method: "get" | "post" | "patch";
  path: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: z.ZodType;
}

/** Every public route by name. Booking registers its handlers from these entries, the gateway its table. */
export const ROUTES = {
  issueToken: { method: "post", path: "/api/users/token", body: issueTokenBody },
  pollToken: { method: "get", path: "/api/users/:userId/token", params: userIdPath },
  queueStream: { method: "get", path: "/api/queue/stream", query: queueStreamQuery },
  concertDates: { method: "get", path: "/api/concert/:concertId/date", params: concertIdPath },
  freeSeats: { method: "get", path: "/api/concert/:concertDetailId/seat", params: concertDetailIdPath },
  holdSeat: { method: "post", path: "/api/reservations", body: reserveBody },
  chargePoints: { method: "patch", path: "/api/users/point", body: chargeBody },
  readPoints: { method: "get", path: "/api/users/:userId/point", params: userIdPath },
  pay: { method: "post", path: "/api/payment", headers: paymentHeaders, body: paymentBody },
} as const satisfies Record<string, RouteContract>;

export type RouteName = keyof typeof ROUTES;

/** An Express `:param` path in OpenAPI's `{param}` form. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}
