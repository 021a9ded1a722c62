import {
  AppError,
  chargeBody,
  concertDetailIdPath,
  concertIdPath,
  idempotencyKey,
  ok,
  parseOr400,
  paymentBody,
  reserveBody,
  userIdPath,
} from "@concert/shared";
import { Router } from "express";
import { listBookableSchedules, listFreeSeats } from "../concerts/list-schedules";
import type { ConcertsRepository } from "../db/concerts.repository";
import type { PointsRepository } from "../db/points.repository";
import { payReservations, type PayDeps } from "../payments/pay";
import { chargePoints, getBalance } from "../points/points";
import { holdSeat, type HoldSeatDeps } from "../reservations/hold-seat";
import { assertLiveToken, assertPassportUser, passportOf } from "./passport";

export interface ApiDeps {
  concerts: ConcertsRepository;
  points: PointsRepository;
  hold: HoldSeatDeps;
  pay: PayDeps;
  maxChargePoint: number;
}

/** Routes only adapt HTTP: parse with the shared schema, call one use case, send the envelope. */
export function apiRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.get("/api/concert/:concertId/date", async (req, res) => {
    const { concertId } = parseOr400(concertIdPath, req.params, "path");
    res.json(ok(await listBookableSchedules(deps.concerts, concertId)));
  });

  r.get("/api/concert/:concertDetailId/seat", async (req, res) => {
    const { concertDetailId } = parseOr400(concertDetailIdPath, req.params, "path");
    res.json(ok(await listFreeSeats(deps.concerts, concertDetailId)));
  });

  r.post("/api/reservations", async (req, res) => {
    const body = parseOr400(reserveBody, req.body);
    const passport = passportOf(res);
    assertPassportUser(passport, body.userId);
    assertLiveToken(passport);
    const hold = await holdSeat(deps.hold, {
      userId: body.userId,
      concertDetailId: body.concertDetailId,
      seatNo: body.seatId,
      tokenId: passport.tokenId,
    });
    res.status(201).json(ok(hold));
  });

  r.patch("/api/users/point", async (req, res) => {
    const body = parseOr400(chargeBody, req.body);
    assertPassportUser(passportOf(res), body.userId);
    res.json(ok(await chargePoints(deps.points, deps.maxChargePoint, body)));
  });

  r.get("/api/users/:userId/point", async (req, res) => {
    const { userId } = parseOr400(userIdPath, req.params, "path");
    assertPassportUser(passportOf(res), userId);
    res.json(ok(await getBalance(deps.points, userId)));
  });

  r.post("/api/payment", async (req, res) => {
    const body = parseOr400(paymentBody, req.body);
    const header = req.header("idempotency-key");
    const key = header === undefined ? undefined : parseOr400(idempotencyKey, header, "Idempotency-Key");
    const passport = passportOf(res);
    assertPassportUser(passport, body.userId);
    const reservationIds = body.reservationIds ?? [body.reservationId as number];
    const paid = await payReservations(deps.pay, {
      userId: body.userId,
      reservationIds,
      point: body.point,
      idempotencyKey: key,
      replayOnly: passport.replay === true,
      tokenId: passport.tokenId,
    });
    res.json(ok(paid));
  });

  r.all("/api/{*any}", (req) => {
    throw new AppError("NOT_FOUND", `No route for ${req.method} ${req.path}`);
  });
  return r;
}
