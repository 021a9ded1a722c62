import type { IncomingMessage } from "node:http";
import type { Request, RequestHandler, Response } from "express";
import type { Cluster, Redis } from "ioredis";
import {
  AppError,
  holdView,
  isLostToken,
  redisCall,
  requestUserIds,
  reserveBody,
  type QueueStore,
  type SeatGateKeys,
} from "@concert/shared";
import type { ClientHolds, HoldOutcome } from "../forward/client-holds";
import type { ForwardedReply, Forwarder } from "../forward/forwarder";
import type { ClientRateLimiter } from "./rate-limit";
import { SeatSingleFlight } from "../forward/seat-single-flight";
import { tokenHeader } from "./queue-routes";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

/** Every booking route the gateway forwards (the table's "booking" entries); anything else is a 404 at the edge. */
export const BOOKING_ROUTES: readonly GatewayRoute[] = ROUTE_TABLE.filter((r) => r.served === "booking");

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

/** The per-address bounds on holds (routes marked clientHoldCaps), across instances. */
export interface HoldCaps {
  /** how fast one address may start holds */
  rate: ClientRateLimiter;
  /** how many live holds one address may have */
  live: ClientHolds;
  clientIp: (req: IncomingMessage) => string;
}

export interface ForwardDeps {
  store: QueueStore;
  /** a request presented a token we issued that Redis does not know (a lost place: queue_tokens_lost_total) */
  onLostToken?: () => void;
  forwarder: Forwarder;
  seatGate?: EarlySeatRefusal;
  holdCaps?: HoldCaps;
}

/** The hold booking made, from its 201 answer; null for any other answer. */
function madeHold(reply: ForwardedReply): HoldOutcome | null {
  if (reply.status !== 201) return null;
  try {
    const parsed = holdView.safeParse((JSON.parse(reply.body.toString("utf8")) as { result?: unknown }).result);
    return parsed.success ? { reservationId: parsed.data.reservationId, expiresAt: Date.parse(parsed.data.expiresAt) } : null;
  } catch {
    return null;
  }
}

/**
 * The handlers of the booking routes, each built from its table entry. Routes with access
 * "token" need an active token whose user matches any userId in the request and, in
 * AUTH_MODE=jwt, the verified user (the identity step in front of them checked the bearer and the
 * named user first); "open" routes go
 * through without one, as the seed says, vouching for the verified user (jwt) or the user the request
 * names (none). A token already used for a payment is refused except on
 * routes allowed in the replay window. On a route that goes through the seat gate, a hold of a
 * seat whose booking gate key exists (held, or being held) is refused here with the same 409
 * booking would give, so the losers of a rush for one seat never cross to booking, and this
 * instance sends at most one hold per seat at a time (forward/seat-single-flight.ts).
 */
export function forwardHandlers(deps: ForwardDeps): (route: GatewayRoute) => RequestHandler {
  const { store, forwarder, seatGate, holdCaps } = deps;
  const singleFlight = new SeatSingleFlight();

  /**
   * For a hold: refuses it if the seat is already claimed or this instance's hold of the seat in
   * flight won; else makes it the one in flight and returns what to call with its answer status.
   */
  const claimSeat = async (gate: EarlySeatRefusal, req: Request): Promise<((status: number) => void) | undefined> => {
    const body = reserveBody.safeParse(req.body);
    if (!body.success) return undefined; // booking answers 400, naming the field
    const { concertDetailId, seatId } = body.data;
    const key = gate.keys.seat(concertDetailId, seatId);
    const refuse = () => {
      gate.onRefused?.();
      return new AppError("SEAT_UNAVAILABLE", `Seat ${seatId} of performance ${concertDetailId} is not available`, {
        concertDetailId,
        seatId,
      });
    };
    if ((await redisCall(gate.redis.exists(key))) === 1) throw refuse();
    const answered = await singleFlight.claim(key);
    if (!answered) throw refuse();
    return answered;
  };

  /** Counts the hold against its address's rate and takes one of its live places; the result records booking's answer. */
  const takeHoldPlace = async (caps: HoldCaps, req: Request): Promise<((outcome: HoldOutcome | null) => Promise<void>) | undefined> => {
    await caps.rate.consume(req);
    return caps.live.enabled ? caps.live.reserve(caps.clientIp(req)) : undefined;
  };

  const withToken = (route: GatewayRoute): RequestHandler => {
    const gate = route.seatGate ? seatGate : undefined;
    const caps = route.clientHoldCaps ? holdCaps : undefined;
    return async (req: Request, res: Response) => {
      const token = tokenHeader(req.headers.token);
      // a token past its session cap may still pay the hold that keeps it alive, nothing else
      const auth = await store.authorize(token, { overtimeOk: route.replayWindow }).catch((err: unknown) => {
        if (isLostToken(err, token, res.locals.verifiedUserId as number | undefined)) deps.onLostToken?.();
        throw err;
      });
      res.locals.userId = auth.userId;
      const verified = res.locals.verifiedUserId as number | undefined; // AUTH_MODE=jwt (auth/identity.ts)
      if (verified !== undefined && auth.userId !== verified) {
        throw new AppError("TOKEN_USER_MISMATCH", "The queue token is not the verified user's");
      }
      if (auth.replay && !route.replayWindow) throw new AppError("TOKEN_INVALID", "This token was used for a payment; queue again");
      for (const named of namedUserIds(req)) {
        if (typeof named === "number" && named !== auth.userId) {
          throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the queue token's user");
        }
      }
      // A retry under an Idempotency-Key must reach booking, which answers it with the hold it made.
      const answered = gate && req.headers["idempotency-key"] === undefined ? await claimSeat(gate, req) : undefined;
      try {
        // after the seat gate: the losers of a rush for a taken seat are refused without the
        // per-address bookkeeping (they create no hold, so they count against nothing)
        const settle = caps && (await takeHoldPlace(caps, req));
        let made: HoldOutcome | null = null;
        try {
          const reply = await forwarder.forward(req, res, { userId: auth.userId, queueToken: token, replay: auth.replay || undefined });
          if (settle) made = madeHold(reply);
        } finally {
          await settle?.(made);
        }
      } finally {
        answered?.(res.headersSent ? res.statusCode : 0);
      }
    };
  };

  /** No queue token: the passport vouches for the request's user (booking checks every id against it). */
  const open =
    (route: GatewayRoute): RequestHandler =>
    async (req, res) => {
      // jwt: the verified user (the identity step checked any named one against it); none: the named user
      const userId = (res.locals.verifiedUserId as number | undefined) ?? requestUserIds(route, req)[0];
      if (userId === undefined) throw new AppError("VALIDATION_FAILED", `${route.name} names no user`);
      await forwarder.forward(req, res, { userId });
    };

  return (route) => (route.access === "token" ? withToken(route) : open(route));
}
