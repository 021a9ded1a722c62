import type { IncomingHttpHeaders } from "node:http";
import {
  AppError,
  ROUTES,
  idempotencyKey,
  ok,
  parseOr400,
  requestUserIds,
  seatsOfHold,
  type Passport,
  type RouteName,
} from "@concert/shared";
import { Router, type Request, type Response } from "express";
import { listBookablePerformances, listFreeSeats } from "../concerts/list-performances";
import type { ConcertsRepository } from "../db/concerts.repository";
import type { PointsRepository } from "../db/points.repository";
import type { TicketsRepository } from "../db/tickets.repository";
import { payReservations, type PayDeps } from "../payments/pay";
import { chargePoints, getBalance } from "../points/points";
import { cancelReservation, type CancelDeps } from "../refunds/cancel-reservation";
import { holdSeat, holdSeatGroup, type HoldSeatDeps } from "../reservations/hold-seat";
import { releaseHold } from "../reservations/release-hold";
import type { SeatMap } from "../seat-map/seat-map";
import { assertLiveToken, assertPassportUsers, passportMarkOf, passportOf } from "./passport";

export interface ApiDeps {
  concerts: ConcertsRepository;
  points: PointsRepository;
  hold: HoldSeatDeps;
  pay: PayDeps;
  maxChargePoint: number;
  cancel: CancelDeps;
  tickets: TicketsRepository;
  /** the seat-availability read model: a seat map or dates read that reached booking rebuilds what it reads */
  seatMap?: SeatMap;
}

/** The shared routes booking serves (the gateway forwards exactly these). */
export type BookingRouteName =
  | "concertDates"
  | "freeSeats"
  | "holdSeat"
  | "chargePoints"
  | "readPoints"
  | "pay"
  | "releaseHold"
  // issue 15: cancel and refund, my tickets
  | "cancelReservation"
  | "myReservations";

/** What a route's handler reads of a request, the same whether Express or the hot dispatch (hot-api.ts) serves it. */
export interface ApiRequest {
  /** the path's `:param` values */
  params: Record<string, string>;
  /** the query string, parsed as Express's "simple" parser parses it (node:querystring) */
  query: unknown;
  /** the parsed JSON body (undefined when the request had none) */
  body: unknown;
  headers: IncomingHttpHeaders;
  /** the passport booking verified for this very request */
  passport: Passport;
  /**
   * A write's passport marked used (passport.ts markPassportUsed: 401 PASSPORT_INVALID when it
   * already was). Settled before the handler runs, except on a route declared
   * `marksPassportInHandler`, whose handler gets it pending (it went out with the handler's own
   * first Redis round trip) and awaits it before anything irreversible. Reads: resolved.
   */
  passportMark: Promise<void>;
}

/** A route's answer: its status and the envelope's result. Refusals are thrown (AppError). */
export interface ApiAnswer {
  status: number;
  result: unknown;
}

export type ApiHandler = (req: ApiRequest) => Promise<ApiAnswer>;

/** A route booking serves: its handler, and how it takes a write's passport mark. */
export interface ApiRoute {
  handle: ApiHandler;
  /** the handler gets the passport mark pending, see {@link ApiRequest.passportMark} (a route of an exact path only) */
  marksPassportInHandler: boolean;
}
export type ApiHandlers = Record<BookingRouteName, ApiRoute>;

const answer = (result: unknown, status = 200): ApiAnswer => ({ status, result });

/**
 * Routes only adapt HTTP: parse with the shared schema, call one use case, return the result.
 * Each refuses a request naming a user (path or body) other than the passport's before its own
 * work runs. Express (apiRoutes) and booking's hot dispatch (hot-api.ts) both serve these.
 */
export function apiHandlers(deps: ApiDeps): ApiHandlers {
  const handlers: Partial<ApiHandlers> = {};
  const on = (name: BookingRouteName, handler: ApiHandler, { marksPassportInHandler = false } = {}) => {
    const route = ROUTES[name];
    if (marksPassportInHandler && route.path.includes(":"))
      throw new Error(`${name}: only a route of an exact path marks its passport itself`);
    handlers[name] = {
      handle: async (req) => {
        assertPassportUsers(req.passport, requestUserIds(route, req));
        return handler(req);
      },
      marksPassportInHandler,
    };
  };

  on("concertDates", async (req) => {
    const { concertId } = parseOr400(ROUTES.concertDates.params, req.params, "path");
    const dates = await listBookablePerformances(deps.concerts, concertId);
    // (the gateway answers from the model once it is built; it forwards only while it is not)
    await deps.seatMap?.rebuildQuietly({ concertId });
    return answer(dates);
  });

  on("freeSeats", async (req) => {
    const { concertDetailId } = parseOr400(ROUTES.freeSeats.params, req.params, "path");
    const seats = await listFreeSeats(deps.concerts, concertDetailId);
    await deps.seatMap?.rebuildQuietly({ concertDetailId });
    return answer(seats);
  });

  // the passport's mark goes out with the seat gates' claim and the user's lease (one round trip)
  on(
    "holdSeat",
    async (req) => {
      const body = parseOr400(ROUTES.holdSeat.body, req.body);
      const { passport } = req;
      assertLiveToken(passport);
      const input = {
        userId: body.userId,
        concertDetailId: body.concertDetailId,
        seatNos: seatsOfHold(body),
        queueToken: passport.queueToken,
        deadline: passport.deadline,
        idempotencyKey: idempotencyKeyOf(req),
        passportMark: req.passportMark,
      };
      // `seatId` keeps the seed's one-hold answer; `seatIds` is answered with the list
      const hold = body.seatIds ? await holdSeatGroup(deps.hold, input) : await holdSeat(deps.hold, input);
      return answer(hold, 201);
    },
    { marksPassportInHandler: true },
  );

  on("releaseHold", async (req) => {
    const { reservationId } = parseOr400(ROUTES.releaseHold.params, req.params, "path");
    const { passport } = req;
    assertLiveToken(passport);
    return answer(await releaseHold(deps.hold, { userId: passport.userId, reservationId, deadline: passport.deadline }));
  });

  on("chargePoints", async (req) => {
    const body = parseOr400(ROUTES.chargePoints.body, req.body);
    return answer(await chargePoints(deps.points, deps.maxChargePoint, body));
  });

  on("readPoints", async (req) => {
    const { userId } = parseOr400(ROUTES.readPoints.params, req.params, "path");
    return answer(await getBalance(deps.points, userId));
  });

  on("pay", async (req) => {
    const body = parseOr400(ROUTES.pay.body, req.body);
    const key = idempotencyKeyOf(req);
    const { passport } = req;
    const reservationIds = body.reservationIds ?? [body.reservationId as number];
    const paid = await payReservations(deps.pay, {
      userId: body.userId,
      reservationIds,
      point: body.point,
      idempotencyKey: key,
      replayOnly: passport.replay === true,
      queueToken: passport.queueToken,
      deadline: passport.deadline,
    });
    return answer(paid);
  });

  // issue 15: cancel and refund, my tickets (no queue token: people cancel days later)
  on("cancelReservation", async (req) => {
    const { reservationId } = parseOr400(ROUTES.cancelReservation.params, req.params, "path");
    const body = parseOr400(ROUTES.cancelReservation.body, req.body);
    const cancelled = await cancelReservation(deps.cancel, {
      userId: body.userId,
      reservationId,
      idempotencyKey: idempotencyKeyOf(req),
      deadline: req.passport.deadline,
    });
    return answer(cancelled);
  });

  on("myReservations", async (req) => {
    const { userId } = parseOr400(ROUTES.myReservations.params, req.params, "path");
    const page = parseOr400(ROUTES.myReservations.query, req.query, "query");
    return answer(await deps.tickets.list(userId, page));
  });

  return handlers as ApiHandlers;
}

const MARKED: Promise<void> = Promise.resolve();

/**
 * Runs a route, given its request and, for a write, its passport mark already sent: the mark is
 * awaited before the handler runs, or, on a route that `marksPassportInHandler`, handed to the
 * handler pending. Either way no answer goes out before the mark is settled, and a refused mark
 * (a replayed passport: 401 PASSPORT_INVALID; Redis down: 503) is the answer whatever the handler
 * did meanwhile, as when the mark came first. Express (apiRoutes) and the hot dispatch both run
 * routes through here.
 */
export async function runRoute(
  route: ApiRoute,
  req: Omit<ApiRequest, "passportMark">,
  mark: Promise<void> | undefined,
): Promise<ApiAnswer> {
  if (mark === undefined) return route.handle({ ...req, passportMark: MARKED });
  if (!route.marksPassportInHandler) {
    await mark;
    return route.handle({ ...req, passportMark: MARKED });
  }
  const [answered, marked] = await Promise.allSettled([route.handle({ ...req, passportMark: mark }), mark]);
  if (marked.status === "rejected") throw marked.reason;
  if (answered.status === "rejected") throw answered.reason;
  return answered.value;
}

/**
 * Whether a request is for a route that `marksPassportInHandler` (its method and exact path), so
 * that Express's passportOnce hands its mark on pending instead of awaiting it.
 */
export function marksPassportInHandler(handlers: ApiHandlers): (method: string, path: string) => boolean {
  const exact = new Set(
    (Object.keys(handlers) as BookingRouteName[])
      .filter((name) => handlers[name].marksPassportInHandler)
      .map((name) => `${ROUTES[name].method.toUpperCase()} ${ROUTES[name].path}`),
  );
  return (method, path) => exact.has(`${method} ${path}`);
}

/**
 * The handlers on Express, each at its shared entry's method and path (every form of the
 * request the hot dispatch leaves to Express). A route names itself in `res.locals.routeName`
 * (the metrics count outcomes by name) once it matched.
 */
export function apiRoutes(handlers: ApiHandlers): Router {
  const r = Router();
  for (const name of Object.keys(handlers) as BookingRouteName[]) {
    const route = ROUTES[name];
    r[route.method](route.path, async (req: Request, res: Response) => {
      res.locals.routeName = name satisfies RouteName;
      const { status, result } = await runRoute(handlers[name], apiRequestOf(req, res), passportMarkOf(res));
      res.status(status).json(ok(result));
    });
  }

  r.all("/api/{*any}", (req) => {
    throw new AppError("NOT_FOUND", `No route for ${req.method} ${req.path}`);
  });
  return r;
}

function apiRequestOf(req: Request, res: Response): Omit<ApiRequest, "passportMark"> {
  return {
    params: req.params as Record<string, string>,
    query: req.query,
    body: req.body,
    headers: req.headers,
    passport: passportOf(res),
  };
}

/** The request's Idempotency-Key (the shared rules), or 400 naming it. */
function idempotencyKeyOf(req: ApiRequest): string | undefined {
  const header = req.headers["idempotency-key"];
  return header === undefined ? undefined : parseOr400(idempotencyKey, header, "Idempotency-Key");
}
