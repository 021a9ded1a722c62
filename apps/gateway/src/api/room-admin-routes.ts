import { Router, type Request } from "express";
import {
  AppError,
  DependencyError,
  INTERNAL_PATHS,
  concertIdPath,
  createConcertBody,
  createdConcert,
  DEFAULT_PREQUEUE_SEC,
  ok,
  parseOr400,
  roomSettingsPatch,
  type ErrorCode,
} from "@concert/shared";
import type { Forwarder, OperatorReply } from "../forward/forwarder";
import type { Room, Rooms } from "../queue/rooms";
import type { AdminWrite } from "./admin-routes";

/** Booking's answer to an operator call: its result, or its refusal as the same AppError (a 5xx: booking unavailable). */
function resultOf(reply: OperatorReply): unknown {
  if (reply.status < 400) return reply.envelope.result;
  const e = reply.envelope.error;
  if (reply.status >= 500 || !e) throw new DependencyError("booking", { cause: new Error(`booking answered ${reply.status}`) });
  throw new AppError(e.code as ErrorCode, e.message, e.details, reply.status);
}

/**
 * The operator routes of the concert rooms (mounted by adminRoutes, behind the same ADMIN_TOKEN):
 * making concerts, each room's figures and settings, pausing and resuming a room. Settings live
 * with the concert in Postgres (booking, through its internal routes); pause is live in Redis, as
 * for the general room (everyone keeps their place). The writes are rows of adminRoutes' audited
 * table (each one's before → after is the room's controls: paused and settings); the reads a router.
 */
export function roomAdminRoutes(rooms: Rooms, forwarder: Forwarder): { writes: AdminWrite[]; reads: Router } {
  const router = Router();
  const { directory } = rooms;

  /** A room's figures; with `full`, the lottery record with every participant's id (the audit's input). */
  const view = async (room: Room, full = false) => {
    const [stats, overrides, prequeued, lottery, seats, rate] = await Promise.all([
      room.store.stats(),
      room.store.getOverrides(),
      room.store.prequeued(),
      room.store.lottery(),
      room.store.inventory(),
      room.store.measuredRate(),
    ]);
    const { participantIds, ...summary } = lottery ?? { participantIds: [] as number[] };
    const schedule = {
      saleOpensAt: room.own.saleOpensAt ?? null,
      saleClosesAt: room.own.saleClosesAt ?? null,
      prequeueSec: room.own.saleOpensAt ? (room.own.prequeueSec ?? DEFAULT_PREQUEUE_SEC) : null,
    };
    return {
      concertId: room.concertId,
      name: room.name,
      settings: { ...room.settings, ...schedule },
      paused: overrides.paused,
      prequeued,
      ...stats,
      // the last in line: the estimate they are told, as for the general room (none while paused: nobody
      // moves; none while only a pre-queue waits: nobody has a rank before the opening's draw)
      lastWaitSec:
        stats.waiting === 0 ? (prequeued > 0 ? null : 0) : overrides.paused ? null : room.service.estimateWait(stats.waiting, rate),
      seats,
      lottery: lottery ? (full ? { ...summary, participantIds } : summary) : null,
    };
  };
  /** The concert's own room (fresh from the registry), or 404. */
  const roomOf = async (raw: unknown): Promise<Room> => {
    const { concertId } = parseOr400(concertIdPath, raw, "path");
    await directory.refresh();
    const concert = directory.get(concertId);
    if (!concert) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
    const room = rooms.room(concertId);
    if (!room)
      throw new AppError("NOT_FOUND", `Concert ${concertId} has no room of its own (PATCH /admin/rooms/${concertId} gives it one)`, {
        concertId,
      });
    return room;
  };

  /** the path's concert (a bad id is the answer's 400, before anything is read) */
  const concertOf = (req: Request) => parseOr400(concertIdPath, req.params, "path").concertId;
  /** what an operator action on a room changes: its pause and settings (null: no room of its own yet) */
  const roomControls = async (req: Request) => {
    const concertId = concertOf(req);
    await directory.refresh();
    const room = rooms.room(concertId);
    if (!room) return null;
    const { settings, paused } = await view(room);
    return { paused, settings };
  };
  const idOrNull = (req: Request) => concertIdPath.safeParse(req.params).data?.concertId ?? null;

  const writes: AdminWrite[] = [
    {
      method: "post",
      path: "/admin/concerts",
      action: "concert.create",
      room: () => null,
      // nothing before; after, the concert made (its id and dates)
      controls: (_req, result) => Promise.resolve(result ?? null),
      apply: async (req) => {
        const body = parseOr400(createConcertBody, req.body);
        const created = createdConcert.parse(
          resultOf(await forwarder.operatorCall("POST", INTERNAL_PATHS.createConcert, body, String(req.id))),
        );
        await directory.refresh();
        return { request: body, result: created };
      },
      answer: (_req, res, created) => void res.status(201).json(ok(created)),
    },
    {
      method: "patch",
      path: "/admin/rooms/:concertId",
      action: "room.update",
      room: idOrNull,
      controls: roomControls,
      apply: async (req) => {
        const concertId = concertOf(req);
        const patch = parseOr400(roomSettingsPatch, req.body);
        const path = INTERNAL_PATHS.concertRoom.replace(":concertId", String(concertId));
        resultOf(await forwarder.operatorCall("PATCH", path, patch, String(req.id)));
        return { request: patch };
      },
      answer: async (req, res) => void res.json(ok(await view(await roomOf(req.params)))),
    },
    ...(["pause", "resume"] as const).map((action): AdminWrite => ({
      method: "post",
      path: `/admin/rooms/:concertId/${action}`,
      action: `room.${action}`,
      room: idOrNull,
      controls: roomControls,
      apply: async (req) => {
        const room = await roomOf(req.params);
        await room.store.setOverrides({ paused: action === "pause" });
      },
      answer: async (req, res) => void res.json(ok(await view(await roomOf(req.params)))),
    })),
  ];

  router.get("/admin/rooms", async (_req, res) => {
    await directory.refresh();
    res.json(ok({ rooms: await Promise.all(rooms.all().map((r) => view(r))) }));
  });
  router.get("/admin/rooms/:concertId", async (req, res) => {
    res.json(ok(await view(await roomOf(req.params), true)));
  });
  return { writes, reads: router };
}
