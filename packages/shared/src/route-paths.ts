/**
 * Every public route's method and path (Express `:param` form), by name. Imports nothing, so the
 * waiting-room page bundles it (apps/web) as well as routes.ts, which adds the schemas.
 */
export const ROUTE_PATHS = {
  issueToken: { method: "post", path: "/api/users/token" },
  pollToken: { method: "get", path: "/api/users/:userId/token" },
  queueStream: { method: "get", path: "/api/queue/stream" },
  concertDates: { method: "get", path: "/api/concert/:concertId/date" },
  freeSeats: { method: "get", path: "/api/concert/:concertDetailId/seat" },
  holdSeat: { method: "post", path: "/api/reservations" },
  chargePoints: { method: "patch", path: "/api/users/point" },
  readPoints: { method: "get", path: "/api/users/:userId/point" },
  pay: { method: "post", path: "/api/payment" },
  // issue 15: cancel and refund, my tickets
  cancelReservation: { method: "post", path: "/api/reservations/:reservationId/cancel" },
  myReservations: { method: "get", path: "/api/users/:userId/reservations" },
  releaseHold: { method: "delete", path: "/api/reservations/:reservationId" },
} as const;

export type RouteName = keyof typeof ROUTE_PATHS;

/**
 * GET: the concerts with a waiting room of their own, for the page (issue 14). A public listing
 * like /health, outside /api and the route table: it names no user and needs neither a token nor,
 * in jwt mode, a bearer.
 */
export const ROOMS_PATH = "/rooms";

/** A route's path with its `:param` segments filled in (URL-encoded), e.g. pathOf("pollToken", { userId: 7 }). */
export function pathOf(name: RouteName, params: Record<string, string | number> = {}): string {
  return ROUTE_PATHS[name].path.replace(/:(\w+)/g, (_, p: string) => {
    if (!(p in params)) throw new Error(`${name}: no value for :${p}`);
    return encodeURIComponent(String(params[p]));
  });
}
