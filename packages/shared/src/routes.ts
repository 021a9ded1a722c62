import type { z } from "zod";
import {
  chargeBody,
  concertDetailIdPath,
  concertIdPath,
  issueTokenBody,
  issueTokenHeaders,
  paymentBody,
  holdHeaders,
  paymentHeaders,
  queueStreamQuery,
  reserveBody,
  userIdPath,
} from "./api";
import { ROUTE_PATHS, pathOf, type RouteName } from "./route-paths";

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
  issueToken: { ...ROUTE_PATHS.issueToken, headers: issueTokenHeaders, body: issueTokenBody },
  pollToken: { ...ROUTE_PATHS.pollToken, params: userIdPath },
  queueStream: { ...ROUTE_PATHS.queueStream, query: queueStreamQuery },
  concertDates: { ...ROUTE_PATHS.concertDates, params: concertIdPath },
  freeSeats: { ...ROUTE_PATHS.freeSeats, params: concertDetailIdPath },
  holdSeat: { ...ROUTE_PATHS.holdSeat, headers: holdHeaders, body: reserveBody },
  chargePoints: { ...ROUTE_PATHS.chargePoints, body: chargeBody },
  readPoints: { ...ROUTE_PATHS.readPoints, params: userIdPath },
  pay: { ...ROUTE_PATHS.pay, headers: paymentHeaders, body: paymentBody },
} as const satisfies Record<RouteName, RouteContract>;

export { ROUTE_PATHS, pathOf, type RouteName };

/** An Express `:param` path in OpenAPI's `{param}` form. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}
