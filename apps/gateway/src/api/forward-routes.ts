import type { IncomingMessage, ServerResponse } from "node:http";
import type { Request, RequestHandler } from "express";
import type { Cluster, Redis } from "ioredis";
import {
  AppError,
  holdView,
  type HoldView,
  isLostToken,
  multiHoldView,
  redisCall,
  requestUserIds,
  reservationView,
  reserveBody,
  seatsOfHold,
  type AuthResult,
  tokenConcertId,
  type QueueStore,
  type SeatGateKeys,
} from "@concert/shared";
import type { ClientHolds, HoldOutcome } from "../forward/client-holds";
import { concertsOfRequest, wrongConcert, type ConcertOf } from "../forward/concert-of";
import type { Rooms } from "../queue/rooms";
import type { ForwardedReply, Forwarder, OutgoingRequest } from "../forward/forwarder";
import type { ClientRateLimiter } from "./rate-limit";
import { SeatSingleFlight } from "../forward/seat-single-flight";
import { tokenHeader } from "./queue-routes";
import { ROUTE_TABLE, type GatewayRoute } from "./route-table";

/** Every booking route the gateway forwards (the table's "booking" entries); anything else is a 404 at the edge. */
export const BOOKING_ROUTES: readonly GatewayRoute[] = ROUTE_TABLE.filter((r) => r.served === "booking");

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
  /** this instance's holds in flight per seat (one for the hot path's forwards and Express's) */
  singleFlight?: SeatSingleFlight;
  /**
   * the concert rooms: a room token is authorised in its room's store, and while any concert has
   * a room of its own every token route checks that the token's room serves the request's concert
   */
  rooms?: RoomChecks;
}

/**
 * A request to a booking route as the forward's logic reads it: what Express's handler
 * (forwardHandlers) and the hot path (hot-routes.ts) both give, so the logic exists once.
 */
export interface ForwardRequest extends OutgoingRequest {
  /** the path's `:param` values (ids), by name */
  params: Record<string, string>;
  /** AUTH_MODE=jwt: the user the identity step verified (it already bound the named user to it) */
  verifiedUserId?: number;
  /** the client's own request: its address for the hold caps (X-Forwarded-For under TRUST_PROXY, as everywhere) */
  incoming: IncomingMessage;
  /** what the request's log line records: the token's user once known (Express: res.locals) */
  record: { userId?: unknown };
}

/** The forward of one route: booking's answer is written to `res` by the Forwarder; whatever it throws is the answer instead. */
export type ForwardRoute = (req: ForwardRequest, res: ServerResponse) => Promise<void>;

/** The answer's result (inside the envelope), or undefined when the body is not JSON. */
function resultOf(reply: ForwardedReply): unknown {
  try {
    return (JSON.parse(reply.body.toString("utf8")) as { result?: unknown }).result;
  } catch {
    return undefined;
  }
}

/** The holds booking made, from its 201 answer (one for `seatId`, one per seat for `seatIds`); none for any other answer. */
function madeHolds(reply: ForwardedReply): HoldView[] {
  if (reply.status !== 201) return [];
  const result = resultOf(reply);
  const one = holdView.safeParse(result);
  return one.success ? [one.data] : (multiHoldView.safeParse(result).data?.reservations ?? []);
}

/** The reservation booking released, from its 200 answer; null for any other answer. */
function releasedHold(reply: ForwardedReply): number | null {
  if (reply.status !== 200) return null;
  return reservationView.safeParse(resultOf(reply)).data?.reservationId ?? null;
}

/** The 409 of a hold of seats already claimed (booking gives the same). */
function seatsRefusal(gate: EarlySeatRefusal, concertDetailId: number, taken: number[]): AppError {
  gate.onRefused?.();
  const which =
    taken.length === 1
      ? `Seat ${taken[0]} of performance ${concertDetailId} is`
      : `Seats ${taken.join(", ")} of performance ${concertDetailId} are`;
  return new AppError("SEAT_UNAVAILABLE", `${which} not available`, { concertDetailId, seatId: taken[0], seatIds: taken });
}

/**
 * The seats of a hold (its parsed body, or null when booking must answer it: not a valid hold
 * body) and those of them already claimed in booking's gate (one EXISTS each).
 */
async function claimedSeats(
  gate: EarlySeatRefusal,
  rawBody: unknown,
): Promise<{ concertDetailId: number; seats: number[]; keys: string[]; taken: number[] } | null> {
  const body = reserveBody.safeParse(rawBody);
  if (!body.success) return null; // booking answers 400, naming the field
  const { concertDetailId } = body.data;
  const seats = seatsOfHold(body.data);
  const keys = seats.map((seatNo) => gate.keys.seat(concertDetailId, seatNo));
  const exists = await redisCall(Promise.all(keys.map((key) => gate.redis.exists(key))));
  return { concertDetailId, seats, keys, taken: seats.filter((_, i) => exists[i] === 1) };
}

/** The user ids a hold body names that are not the token's (403 TOKEN_USER_MISMATCH, before the seat gate). */
export function assertNamedUser(body: unknown, userId: number): void {
  if (body && typeof body === "object" && !Array.isArray(body) && "userId" in body) {
    if (typeof body.userId === "number" && body.userId !== userId) {
      throw new AppError("TOKEN_USER_MISMATCH", "userId does not match the queue token's user");
    }
  }
}

/** The concert rooms as the token routes check them (Express's forward and the hot path alike). */
export interface RoomChecks {
  rooms: Rooms;
  concertOf: ConcertOf;
}

/** The store of the room the token is of: the general room's, or its concert room's (unknown room: 401 as for any unknown token). */
export async function storeOfToken(
  general: QueueStore,
  rooms: RoomChecks | undefined,
  token: string,
): Promise<{ store: QueueStore; room: number | null }> {
  const room = tokenConcertId(token);
  if (room === null || !rooms) return { store: general, room: null };
  const own = await rooms.rooms.roomOfToken(room);
  if (!own) throw new AppError("TOKEN_INVALID", "Unknown queue token");
  return { store: own.store, room };
}

/** 403 TOKEN_WRONG_CONCERT unless the token's room is the one serving every concert the request is about. */
export async function checkTokenRoom(
  checks: RoomChecks | undefined,
  route: GatewayRoute,
  req: Pick<ForwardRequest, "params" | "body">,
  tokenRoom: number | null,
): Promise<void> {
  if (!checks || (tokenRoom === null && !checks.rooms.directory.hasRooms)) return;
  const { rooms, concertOf } = checks;
  for (const concertId of await concertsOfRequest(route.name, req, concertOf)) {
    const serving = rooms.directory.get(concertId)?.room ? concertId : null;
    if (serving !== tokenRoom) throw wrongConcert(tokenRoom, concertId);
  }
}

/**
 * The queue token of a request to a "token" route: active (or, on a route with a replay window,
 * used by the payment being retried), and the verified user's in AUTH_MODE=jwt. Express's
 * forward handler and the hot seat-map reads (hot-routes.ts) both ask this.
 */
export async function authorizeToken(
  store: QueueStore,
  route: GatewayRoute,
  token: string,
  verified: number | undefined,
  onLostToken?: () => void,
): Promise<AuthResult> {
  // a token past its session cap may still pay the hold that keeps it alive, nothing else
  const auth = await store.authorize(token, { overtimeOk: route.replayWindow }).catch((err: unknown) => {
    if (isLostToken(err, token, verified)) onLostToken?.();
    throw err;
  });
  if (verified !== undefined && auth.userId !== verified) {
    throw new AppError("TOKEN_USER_MISMATCH", "The queue token is not the verified user's");
  }
  if (auth.replay && !route.replayWindow) throw new AppError("TOKEN_INVALID", "This token was used for a payment; queue again");
  return auth;
}

/**
 * The forward of each booking route, built from its table entry: the one copy of its logic, run
 * by the hot path (hot-routes.ts) for a canonical request and by Express (forwardHandlers) for
 * every other form. Routes with access "token" need an active token whose user matches any
 * userId in the request and, in AUTH_MODE=jwt, the verified user (the identity step in front of
 * them checked the bearer and the named user first); "open" routes go through without one, as
 * the seed says, vouching for the verified user (jwt) or the user the request names (none). A
 * token already used for a payment is refused except on routes allowed in the replay window. On
 * a route that goes through the seat gate, a hold of a seat whose booking gate key exists (held,
 * or being held) is refused here with the same 409 booking would give, so the losers of a rush
 * for one seat never cross to booking, and this instance sends at most one hold per seat at a
 * time (forward/seat-single-flight.ts).
 */
export function forwardRoutes(deps: ForwardDeps): (route: GatewayRoute) => ForwardRoute {
  const { store, forwarder, seatGate, holdCaps } = deps;
  const singleFlight = deps.singleFlight ?? new SeatSingleFlight();

  /**
   * For a hold: refuses it if any of its seats is already claimed or this instance's hold in
   * flight of one of them won; else makes it the one in flight for each of its seats (taken in
   * seat order, so overlapping holds cannot wait on each other in a ring) and returns what to
   * call with its answer status.
   */
  const claimSeats = async (
    gate: EarlySeatRefusal,
    lookup: ReturnType<typeof claimedSeats>,
  ): Promise<((status: number) => void) | undefined> => {
    const claimed = await lookup;
    if (claimed === null) return undefined;
    const { concertDetailId, seats, keys, taken } = claimed;
    if (taken.length > 0) throw seatsRefusal(gate, concertDetailId, taken);
    const answered: ((status: number) => void)[] = [];
    const answerAll = (status: number) => answered.forEach((answer) => answer(status));
    for (const [i, key] of keys.entries()) {
      const answer = await singleFlight.claim(key);
      if (!answer) {
        answerAll(0);
        throw seatsRefusal(gate, concertDetailId, [seats[i]]);
      }
      answered.push(answer);
    }
    return answerAll;
  };

  /**
   * Counts the hold against its address's rate and takes a live place per seat, both at once (one
   * Redis round trip); over the rate, the places taken are given back and the answer is the 429,
   * as if they had never been asked for. The result records booking's answer.
   */
  const takeHoldPlaces = async (caps: HoldCaps, req: ForwardRequest): Promise<((made: HoldOutcome[]) => Promise<void>) | undefined> => {
    const body = reserveBody.safeParse(req.body);
    const seats = body.success ? seatsOfHold(body.data).length : 1;
    const [rated, placed] = await Promise.allSettled([
      caps.rate.consume(req.incoming),
      caps.live.enabled ? caps.live.reserve(caps.clientIp(req.incoming), seats) : undefined,
    ]);
    if (rated.status === "rejected") {
      if (placed.status === "fulfilled") await placed.value?.([]);
      throw rated.reason;
    }
    if (placed.status === "rejected") throw placed.reason;
    return placed.value;
  };

  /** Keeps the concert of each hold booking made (so its payment or release needs no lookup). */
  const learnHolds = (made: readonly HoldView[]) => {
    if (!deps.rooms) return;
    for (const h of made) {
      const concertId = deps.rooms.concertOf.knownDetail(h.concertDetailId);
      if (concertId !== undefined) deps.rooms.concertOf.learnReservation(h.reservationId, concertId);
    }
  };

  const withToken = (route: GatewayRoute): ForwardRoute => {
    const gate = route.seatGate ? seatGate : undefined;
    const caps = route.clientHoldCaps ? holdCaps : undefined;
    const releases = route.releasesHold ? holdCaps : undefined;
    return async (req, res) => {
      const token = tokenHeader(req.headers.token);
      // A retry under an Idempotency-Key must reach booking, which answers it with the hold it made.
      // The gate's keys are read now, beside the token's check (one pipelined Redis round trip),
      // and judged only after it and the other checks, in their order; a refusal before then
      // drops the lookup, its failure too.
      const lookup = gate && req.headers["idempotency-key"] === undefined ? claimedSeats(gate, req.body) : undefined;
      lookup?.catch(() => {});
      const { store: tokenStore, room } = await storeOfToken(store, deps.rooms, token);
      const auth = await authorizeToken(tokenStore, route, token, req.verifiedUserId, deps.onLostToken);
      req.record.userId = auth.userId;
      assertNamedUser(req.body, auth.userId);
      await checkTokenRoom(deps.rooms, route, req, room);
      const answered = gate && lookup ? await claimSeats(gate, lookup) : undefined;
      try {
        // after the seat gate: the losers of a rush for a taken seat are refused without the
        // per-address bookkeeping (they create no hold, so they count against nothing)
        const settle = caps && (await takeHoldPlaces(caps, req));
        let made: HoldOutcome[] = [];
        try {
          const reply = await forwarder.forward(req, res, { userId: auth.userId, queueToken: token, replay: auth.replay || undefined });
          // booking's answer read once, for both
          const holds = route.clientHoldCaps && (settle || deps.rooms) ? madeHolds(reply) : [];
          if (settle) made = holds.map((h) => ({ reservationId: h.reservationId, expiresAt: Date.parse(h.expiresAt) }));
          learnHolds(holds);
          const released = releases?.live.enabled ? releasedHold(reply) : null;
          if (released !== null) await releases?.live.forget(releases.clientIp(req.incoming), released);
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
    (route: GatewayRoute): ForwardRoute =>
    async (req, res) => {
      // jwt: the verified user (the identity step checked any named one against it); none: the named user
      const userId = req.verifiedUserId ?? requestUserIds(route, req)[0];
      if (userId === undefined) throw new AppError("VALIDATION_FAILED", `${route.name} names no user`);
      await forwarder.forward(req, res, { userId });
    };

  return (route) => (route.access === "token" ? withToken(route) : open(route));
}

/** The forward handlers as Express handlers: the request after express.json and the identity step, in the forward's shape. */
export function forwardHandlers(deps: ForwardDeps): (route: GatewayRoute) => RequestHandler {
  const forwardOf = forwardRoutes(deps);
  return (route) => {
    const forward = forwardOf(route);
    return (req: Request, res) =>
      forward(
        {
          method: req.method,
          url: req.originalUrl, // the identity step rewrote a `me` alias here
          headers: req.headers,
          params: req.params as Record<string, string>,
          body: req.body,
          id: String(req.id),
          verifiedUserId: res.locals.verifiedUserId as number | undefined,
          incoming: req,
          record: res.locals,
        },
        res,
      );
  };
}
