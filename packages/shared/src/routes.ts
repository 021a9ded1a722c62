import type { z } from "zod";
import {
  cancelBody,
  cancelHeaders,
  myReservationsQuery,
  reservationIdPath,
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
  parseOr400,
  userIdPath,
} from "./api";
import { ROOMS_PATH, ROUTE_PATHS, pathOf, type RouteName } from "./route-paths";

/**
 * What both apps (and any client) must agree on about one public route: its method, its path in
 * Express's `:param` form (also the metrics' route label), and the schemas of what it reads.
 * The gateway's route table adds where and how it serves each one (apps/gateway/src/api/route-table.ts).
 */
export interface RouteContract {
  method: "get" | "post" | "patch" | "delete";
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
  // issue 15: cancel and refund, my tickets
  cancelReservation: { ...ROUTE_PATHS.cancelReservation, params: reservationIdPath, headers: cancelHeaders, body: cancelBody },
  myReservations: { ...ROUTE_PATHS.myReservations, params: userIdPath, query: myReservationsQuery },
  releaseHold: { ...ROUTE_PATHS.releaseHold, params: reservationIdPath },
} as const satisfies Record<RouteName, RouteContract>;

export { ROOMS_PATH, ROUTE_PATHS, pathOf, type RouteName };

/** The parts of a request a route's schemas read (Express's `req` has them). */
export interface RouteRequest {
  params?: unknown;
  body?: unknown;
}

/**
 * Every user id a request names (its path's `userId`, its body's `userId`), read with the route's
 * own schemas, so the gateway (the user a passport vouches for) and booking (every id must be
 * that user) read the same ids; 400 VALIDATION_FAILED, as the route answers, when they do not parse.
 */
export function requestUserIds(route: RouteContract, req: RouteRequest): number[] {
  const parsed = [route.params && parseOr400(route.params, req.params, "path"), route.body && parseOr400(route.body, req.body)];
  return parsed.flatMap((part: unknown) => {
    const userId = part && typeof part === "object" && "userId" in part ? part.userId : undefined;
    return typeof userId === "number" ? [userId] : [];
  });
}

/** An Express `:param` path in OpenAPI's `{param}` form. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, "{$1}");
}
