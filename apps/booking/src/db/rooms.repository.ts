import { SEATS_PER_PERFORMANCE, type OwnRoomSettings } from "@concert/shared";
import type { Db } from "./client";

/** A concert as the room registry shows it: its name and its own room's settings (null: no room of its own). */
export interface ConcertRoomRow {
  concertId: number;
  name: string;
  room: OwnRoomSettings | null;
}

export interface NewConcert {
  name: string;
  seatPrice: number;
  startsAt: Date[];
  /** a room of its own with these settings (the rest: the gateway's); undefined: served by the general room */
  room?: OwnRoomSettings;
}

type ConcertRecord = {
  id: number;
  name: string;
  hasRoom: boolean;
  roomBatch: number | null;
  roomTickMs: number | null;
  roomMaxActive: number | null;
  roomActiveTtlSec: number | null;
  roomAdmitPerFreeSeat: number | null;
  saleOpensAt: Date | null;
  saleClosesAt: Date | null;
  prequeueSec: number | null;
};

const ROOM_COLUMNS = {
  id: true,
  name: true,
  hasRoom: true,
  roomBatch: true,
  roomTickMs: true,
  roomMaxActive: true,
  roomActiveTtlSec: true,
  roomAdmitPerFreeSeat: true,
  saleOpensAt: true,
  saleClosesAt: true,
  prequeueSec: true,
} as const;

function rowOf(c: ConcertRecord): ConcertRoomRow {
  if (!c.hasRoom) return { concertId: c.id, name: c.name, room: null };
  const room: OwnRoomSettings = {};
  if (c.roomBatch !== null) room.batch = c.roomBatch;
  if (c.roomTickMs !== null) room.tickMs = c.roomTickMs;
  if (c.roomMaxActive !== null) room.maxActive = c.roomMaxActive;
  if (c.roomActiveTtlSec !== null) room.activeTtlSec = c.roomActiveTtlSec;
  if (c.roomAdmitPerFreeSeat !== null) room.admitPerFreeSeat = c.roomAdmitPerFreeSeat;
  if (c.saleOpensAt !== null) room.saleOpensAt = c.saleOpensAt.toISOString();
  if (c.saleClosesAt !== null) room.saleClosesAt = c.saleClosesAt.toISOString();
  if (c.prequeueSec !== null) room.prequeueSec = c.prequeueSec;
  return { concertId: c.id, name: c.name, room };
}

function roomColumns(room: OwnRoomSettings) {
  return {
    hasRoom: true,
    ...(room.batch !== undefined && { roomBatch: room.batch }),
    ...(room.tickMs !== undefined && { roomTickMs: room.tickMs }),
    ...(room.maxActive !== undefined && { roomMaxActive: room.maxActive }),
    ...(room.activeTtlSec !== undefined && { roomActiveTtlSec: room.activeTtlSec }),
    ...(room.admitPerFreeSeat !== undefined && { roomAdmitPerFreeSeat: room.admitPerFreeSeat }),
    ...(room.saleOpensAt !== undefined && { saleOpensAt: new Date(room.saleOpensAt) }),
    ...(room.saleClosesAt !== undefined && { saleClosesAt: room.saleClosesAt === null ? null : new Date(room.saleClosesAt) }),
    ...(room.prequeueSec !== undefined && { prequeueSec: room.prequeueSec }),
  };
}

/** Concerts made by operators, their rooms' settings (durable here; copied to Redis by rooms/room-registry.ts). */
export class RoomsRepository {
  constructor(private readonly db: Db) {}

  /** The concert, its performances and their seats, in one transaction. */
  async createConcert(c: NewConcert): Promise<{ concertId: number; concertDetailIds: number[] }> {
    return this.db.$transaction(async (tx) => {
      const concert = await tx.concert.create({ data: { name: c.name, ...(c.room && roomColumns(c.room)) }, select: { id: true } });
      const concertDetailIds: number[] = [];
      for (const startsAt of [...c.startsAt].sort((a, b) => a.getTime() - b.getTime())) {
        const detail = await tx.concertDetail.create({
          data: { concertId: concert.id, startsAt, seatPrice: c.seatPrice },
          select: { id: true },
        });
        await tx.seat.createMany({
          data: Array.from({ length: SEATS_PER_PERFORMANCE }, (_, n) => ({ concertDetailId: detail.id, seatNo: n + 1 })),
        });
        concertDetailIds.push(detail.id);
      }
      return { concertId: concert.id, concertDetailIds };
    });
  }

  /** Gives the concert a room of its own if it had none, with these settings changed; null when there is no such concert. */
  async updateRoom(concertId: number, room: OwnRoomSettings): Promise<ConcertRoomRow | null> {
    const updated = await this.db.concert.updateMany({ where: { id: concertId }, data: roomColumns(room) });
    if (updated.count === 0) return null;
    return this.find(concertId);
  }

  async find(concertId: number): Promise<ConcertRoomRow | null> {
    const c = await this.db.concert.findUnique({ where: { id: concertId }, select: ROOM_COLUMNS });
    return c ? rowOf(c) : null;
  }

  async all(): Promise<ConcertRoomRow[]> {
    return (await this.db.concert.findMany({ select: ROOM_COLUMNS, orderBy: { id: "asc" } })).map(rowOf);
  }

  /** The concert of each performance and reservation that exists. */
  async concertsOf(
    detailIds: number[],
    reservationIds: number[],
  ): Promise<{ details: Map<number, number>; reservations: Map<number, number> }> {
    const [details, reservations] = await Promise.all([
      detailIds.length
        ? this.db.concertDetail.findMany({ where: { id: { in: detailIds } }, select: { id: true, concertId: true } })
        : Promise.resolve([]),
      reservationIds.length
        ? this.db.reservation.findMany({
            where: { id: { in: reservationIds } },
            select: { id: true, concertDetail: { select: { concertId: true } } },
          })
        : Promise.resolve([]),
    ]);
    return {
      details: new Map(details.map((d) => [d.id, d.concertId])),
      reservations: new Map(reservations.map((r) => [r.id, r.concertDetail.concertId])),
    };
  }
}
