import { AppError, ROUTES, idempotencyKey, ok, parseOr400, requestUserIds, seatsOfHold, type RouteName } from "@concert/shared";
import { Router, type Request, type RequestHandler } from "express";
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
import { assertLiveToken, assertPassportUsers, passportOf } from "./passport";

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

/**
 * Routes only adapt HTTP: parse with the shared schema, call one use case, send the envelope.
 * Each is registered at its shared entry's method and path, names itself in
 * `res.locals.routeName` (the metrics count outcomes by name), and refuses a request naming a
 * user (path or body) other than the passport's before its handler runs.
 */
export function apiRoutes(deps: ApiDeps): Router {
  const r = Router();
  const on = (name: BookingRouteName, handler: RequestHandler) => {
    const route = ROUTES[name];
    const named: RequestHandler = (req, res, next) => {
      res.locals.routeName = name satisfies RouteName;
      assertPassportUsers(passportOf(res), requestUserIds(route, req));
      next();
    };
    r[route.method](route.path, named, handler);
  };

  on("concertDates", async (req, res) => {
    const { concertId } = parseOr400(ROUTES.concertDates.params, req.params, "path");
    const answer = await listBookablePerformances(deps.concerts, concertId);
    // (the gateway answers from the model once it is built; it forwards only while it is not)
    await deps.seatMap?.rebuildQuietly({ concertId });
    res.json(ok(answer));
  });

  on("freeSeats", async (req, res) => {
    const { concertDetailId } = parseOr400(ROUTES.freeSeats.params, req.params, "path");
    const answer = await listFreeSeats(deps.concerts, concertDetailId);
    await deps.seatMap?.rebuildQuietly({ concertDetailId });
    res.json(ok(answer));
  });

  on("holdSeat", async (req, res) => {
    const body = parseOr400(ROUTES.holdSeat.body, req.body);
    const passport = passportOf(res);
    assertLiveToken(passport);
    const input = {
      userId: body.userId,
      concertDetailId: body.concertDetailId,
      seatNos: seatsOfHold(body),
      queueToken: passport.queueToken,
      deadline: passport.deadline,
      idempotencyKey: idempotencyKeyOf(req),
    };
    // `seatId` keeps the seed's one-hold answer; `seatIds` is answered with the list
    const hold = body.seatIds ? await holdSeatGroup(deps.hold, input) : await holdSeat(deps.hold, input);
    res.status(201).json(ok(hold));
  });

  on("releaseHold", async (req, res) => {
    const { reservationId } = parseOr400(ROUTES.releaseHold.params, req.params, "path");
    const passport = passportOf(res);
    assertLiveToken(passport);
    res.json(ok(await releaseHold(deps.hold, { userId: passport.userId, reservationId, deadline: passport.deadline })));
  });

  on("chargePoints", async (req, res) => {
    const body = parseOr400(ROUTES.chargePoints.body, req.body);
    res.json(ok(await chargePoints(deps.points, deps.maxChargePoint, body)));
  });

  on("readPoints", async (req, res) => {
    const { userId } = parseOr400(ROUTES.readPoints.params, req.params, "path");
    res.json(ok(await getBalance(deps.points, userId)));
  });

  on("pay", async (req, res) => {
    const body = parseOr400(ROUTES.pay.body, req.body);
    const key = idempotencyKeyOf(req);
    const passport = passportOf(res);
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
    res.json(ok(paid));
  });

  // issue 15: cancel and refund, my tickets (no queue token: people cancel days later)
  on("cancelReservation", async (req, res) => {
    const { reservationId } = parseOr400(ROUTES.cancelReservation.params, req.params, "path");
    const body = parseOr400(ROUTES.cancelReservation.body, req.body);
    const cancelled = await cancelReservation(deps.cancel, {
      userId: body.userId,
      reservationId,
      idempotencyKey: idempotencyKeyOf(req),
      deadline: passportOf(res).deadline,
    });
    res.json(ok(cancelled));
  });

  on("myReservations", async (req, res) => {
    const { userId } = parseOr400(ROUTES.myReservations.params, req.params, "path");
    const page = parseOr400(ROUTES.myReservations.query, req.query, "query");
    res.json(ok(await deps.tickets.list(userId, page)));
  });

  r.all("/api/{*any}", (req) => {
    throw new AppError("NOT_FOUND", `No route for ${req.method} ${req.path}`);
  });
  return r;
}

/** The request's Idempotency-Key (the shared rules), or 400 naming it. */
function idempotencyKeyOf(req: Request): string | undefined {
  const header = req.header("idempotency-key");
  return header === undefined ? undefined : parseOr400(idempotencyKey, header, "Idempotency-Key");
}
