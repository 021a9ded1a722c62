import {
  AppError,
  INTERNAL_PATHS,
  concertIdPath,
  concertOfQuery,
  createConcertBody,
  ok,
  parseOr400,
  roomSettingsPatch,
  type ConcertOfView,
} from "@concert/shared";
import { Router, type RequestHandler } from "express";
import type { RoomsRepository } from "../db/rooms.repository";
import { createConcert, updateRoom, type RoomsDeps } from "../rooms/manage-rooms";
import { passportOf } from "./passport";

/** Only a passport the gateway signed for an operator's request (or its own lookup) passes. */
const operatorOnly: RequestHandler = (_req, res, next) => {
  if (passportOf(res).operator !== true) throw new AppError("FORBIDDEN", "Internal route: operators only");
  next();
};

/**
 * The routes the gateway calls for operators (POST /admin/concerts, PATCH /admin/rooms/{id}) and
 * to learn which concert a performance or reservation belongs to (a token is bound to its room).
 */
export function internalRoutes(deps: RoomsDeps & { rooms: RoomsRepository }): Router {
  const r = Router();
  r.post(INTERNAL_PATHS.createConcert, operatorOnly, async (req, res) => {
    res.status(201).json(ok(await createConcert(deps, parseOr400(createConcertBody, req.body))));
  });
  r.patch(INTERNAL_PATHS.concertRoom, operatorOnly, async (req, res) => {
    const { concertId } = parseOr400(concertIdPath, req.params, "path");
    res.json(ok(await updateRoom(deps, concertId, parseOr400(roomSettingsPatch, req.body))));
  });
  r.get(INTERNAL_PATHS.concertOf, operatorOnly, async (req, res) => {
    const q = parseOr400(concertOfQuery, req.query, "query");
    const found = await deps.rooms.concertsOf(q.details ?? [], q.reservations ?? []);
    const view: ConcertOfView = { details: Object.fromEntries(found.details), reservations: Object.fromEntries(found.reservations) };
    res.json(ok(view));
  });
  return r;
}
