import { Router, type Request, type Response } from "express";
import type { Cluster, Redis } from "ioredis";
import { AppError, reserveBody, type QueueStore, type SeatGateKeys } from "@concert/shared";
import type { Forwarder } from "../forward/forwarder";
import { tokenHeader } from "./queue-routes";

export interface BookingRoute {
  method: "get" | "post" | "patch";
  /** Express path; booking serves the same path */
  path: string;
  /** "token": needs an active queue token of the user named in the request; "open": point routes */
  access: "token" | "open";
}

/** Every booking route the gateway forwards; anything else is a 404 at the edge. */
export const BOOKING_ROUTES: BookingRoute[] = [
  { method: "get", path: "/api/concert/:concertId/date", access: "token" },
  { method: "get", path: "/api/concert/:concertDetailId/seat", access: "token" },
  { method: "post", path: "/api/reservations", access: "token" },
  { method: "post", path: "/api/payment", access: "token" },
  { method: "patch", path: "/api/users/point", access: "open" },
  { method: "get", path: "/api/users/:userId/point", access: "open" },
];

/** User ids the request names (body `userId`); each must be the token's user. */
function namedUserIds(req: Request): unknown[] {
  const body: unknown = req.body;
  if (body && typeof body === "object" && !Array.isArray(body) && "userId" in body) return [body.userId];
  return [];
}

export interface EarlySeatRefusal {
  redis: Redis | Cluster;
  keys: SeatGateKeys;
  /** counts holds refused here, before booking (metrics) */
  onRefused?: () => void;
}

/**
 * Booking routes. Concert, reservation and payment routes need an active token whose user matches
 * any userId in the request; point routes go through without one, as the seed says.
 * A hold of a seat whose booking gate key exists (held, or being held) is refused here with the
 * same 409 booking would give, so the losers of a rush for one seat never cross to booking. In a
 * burst the key does not exist yet for the first arrivals, so this instance also sends at most one
 * hold per seat at a time: the others wait for it and are refused (409) when it won (201); after
 * any other answer each of them is sent on as usual. Booking still decides between instances.
 */
export function forwardRoutes(store: QueueStore, forwarder: Forwarder, seatGate?: EarlySeatRefusal): Router {
  const router = Router();

  /** seat gate key → the answer status of the hold of that seat this instance is sending now */
  const holdsInFlight = new Map<string, Promise<number>>();

  /**
   * For a hold: refuses it if the seat is already claimed or this instance's hold of the seat in
   * flight won; else makes it the one in flight and returns what to call with its answer status.
   */
  const claimSeat = async (req: Request): Promise<((status: number) => void) | undefined> => {
    if (!seatGate || req.method !== "POST" || (req.route as { path: string }).path !== "/api/reservations") return undefined;
    const body = reserveBody.safeParse(req.body);
    if (!body.success) return undefined; // booking answers 400, naming the field
    const { concertDetailId, seatId } = body.data;
    const key = seatGate.keys.seat(concertDetailId, seatId);
    const refuse = () => {
      seatGate.onRefused?.();
      return new AppError("SEAT_UNAVAILABLE", `Seat ${seatId} of schedule ${concertDetailId} is not available`, {
        concertDetailId,
        seatId,
      });
    };
    if ((await seatGate.redis.exists(key)) === 1) throw refuse();
    for (let sending = holdsInFlight.get(key); sending; sending = holdsInFlight.get(key)) {
      if ((await sending) === 201) throw refuse();
    }
    // (no await between the check above and this: the next hold of the seat sees it)
    let done!: (status: number) => void;
    holdsInFlight.set(key, new Promise<number>((resolve) => (done = resolve)));
    return (status) => {
      holdsInFlight.delete(key);
      done(status);
    };
  };

  const withToken = async (req: Request, res: Response) => {
    const token = tokenHeader(req.headers.token);
    const auth = await store.authorize(token);
    res.locals.userId = auth.userId;
    if (auth.replay && !(req.method === "POST" && (req.route as { path: string }).path === "/api/payment")) {
      throw new AppError("TOKEN_INVALID", "This token was used for a payment; queue again");
    }
    for (const named of namedUserIds(req)) {
      if (typeof named === "number" && named !== auth.userId) {
        throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the queue token's user");
      }
    }
    const answered = await claimSeat(req);
    try {
      await forwarder.forward(req, res, { userId: auth.userId, tokenId: token, replay: auth.replay || undefined });
    } finally {
      answered?.(res.headersSent ? res.statusCode : 0);
    }
  };

  const open = async (req: Request, res: Response) => {
    await forwarder.forward(req, res, {});
  };

  for (const route of BOOKING_ROUTES) router[route.method](route.path, route.access === "token" ? withToken : open);
  return router;
}
