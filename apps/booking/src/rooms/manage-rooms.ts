import { AppError, type CreateConcertBody, type CreatedConcert, type OwnRoomSettings } from "@concert/shared";
import type { ConcertRoomRow, RoomsRepository } from "../db/rooms.repository";
import type { RoomInventory } from "../inventory/room-inventory";
import type { RoomRegistry } from "./room-registry";

export interface RoomsDeps {
  rooms: RoomsRepository;
  registry: RoomRegistry;
  /** a new room's inventory is counted at once */
  inventory?: RoomInventory;
  /** the time dates are checked against (tests inject it) */
  now?: () => Date;
}

/**
 * A concert made by an operator: its dates (each with its 50 seats) in Postgres, then the
 * registry copy the gateways read. Every date must be in the future.
 */
export async function createConcert(deps: RoomsDeps, body: CreateConcertBody): Promise<CreatedConcert> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const startsAt = body.dates.map((d) => new Date(d));
  const past = body.dates.filter((_, i) => startsAt[i].getTime() <= now);
  if (past.length) throw new AppError("VALIDATION_FAILED", `dates: must be in the future (${past.join(", ")})`, { field: "dates" });
  const created = await deps.rooms.createConcert({ name: body.name, seatPrice: body.seatPrice, startsAt, room: body.room });
  await deps.registry.publish([{ concertId: created.concertId, name: body.name, room: body.room ?? null }]);
  if (body.room) await deps.inventory?.recount(created.concertId);
  return created;
}

/** Gives a concert a room of its own (when it had none) and changes the given settings; live on every gateway within a second. */
export async function updateRoom(deps: RoomsDeps, concertId: number, patch: OwnRoomSettings): Promise<ConcertRoomRow> {
  const current = await deps.rooms.find(concertId);
  if (!current) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  const merged = { ...current.room, ...patch };
  if (merged.saleClosesAt && merged.saleOpensAt && Date.parse(merged.saleClosesAt) <= Date.parse(merged.saleOpensAt)) {
    throw new AppError("VALIDATION_FAILED", "saleClosesAt: must be after saleOpensAt", { field: "saleClosesAt" });
  }
  const row = await deps.rooms.updateRoom(concertId, patch);
  if (!row) throw new AppError("NOT_FOUND", `Concert ${concertId} not found`, { concertId });
  await deps.registry.publish([row]);
  await deps.inventory?.recount(concertId);
  return row;
}
