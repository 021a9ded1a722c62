import { z } from "zod";
import type { AdmissionSettings } from "./queue-store";

/**
 * What an admission setting may be, whoever sets it: the gateway's QUEUE_* variables at start and
 * the operators' live overrides (PATCH /admin/queue/settings) are both checked against this.
 */
export const admissionSettings = z.object({
  /** users admitted per tick */
  batch: z.number().int().min(1).max(100_000),
  /** how often a tick runs */
  tickMs: z.number().int().min(10).max(3_600_000),
  /** admission stops while this many tokens are active */
  maxActive: z.number().int().min(1).max(10_000_000),
}) satisfies z.ZodType<AdmissionSettings>;

/**
 * A concert room's own admission settings (stored with the concert in Postgres; booking copies
 * them to Redis, see {@link roomRegistryKey}). A setting left out is the gateway's configured one.
 */
export const roomSettings = admissionSettings.extend({
  /** an admitted token lives this long after admission or its last use (ACTIVE_TOKEN_TTL_SEC's per-room form) */
  activeTtlSec: z.number().int().min(10).max(86_400),
  /** at most this many active users per seat still free (inventory-aware admission) */
  admitPerFreeSeat: z.number().min(0.1).max(1000),
});
/** admitPerFreeSeat's default: twice as many admitted as seats free */
export const DEFAULT_ADMIT_PER_FREE_SEAT = 2;
export type RoomSettings = z.infer<typeof roomSettings>;

/** A room's pre-queue opens this long before saleOpensAt (prequeueSec's default). */
export const DEFAULT_PREQUEUE_SEC = 1800;
const isoDateTime = z.iso.datetime({ offset: true }).describe("ISO 8601 date-time");
/**
 * A room's scheduled sale: the pre-queue from saleOpensAt − prequeueSec, the lottery at
 * saleOpensAt, the close at saleClosesAt (null or absent: none).
 */
export const saleSchedule = z.object({
  saleOpensAt: isoDateTime,
  saleClosesAt: isoDateTime.nullable(),
  prequeueSec: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400),
});
export type SaleScheduleSettings = z.infer<typeof saleSchedule>;

/** A room's own settings as stored (each one left out: the gateway's configured one; no saleOpensAt: no scheduled opening). */
export const ownRoomSettings = roomSettings.partial().extend(saleSchedule.partial().shape);
export type OwnRoomSettings = z.infer<typeof ownRoomSettings>;

/** What the gateway knows of a concert (the registry's value): its name and, when it has one, its own room's settings. */
export const registeredConcert = z.object({
  name: z.string(),
  room: ownRoomSettings.nullable(),
});
export type RegisteredConcert = z.infer<typeof registeredConcert>;

/**
 * The Redis hash booking writes every concert to (concertId → JSON {@link RegisteredConcert}),
 * from Postgres, on every change and every {@link ROOM_REGISTRY_REFRESH_MS}; the gateways read it.
 */
export function roomRegistryKey(queueName: string): string {
  return `rooms:${queueName}:concerts`;
}
/** booking rewrites the registry from Postgres this often (so it comes back by itself after a Redis data loss) */
export const ROOM_REGISTRY_REFRESH_MS = 10_000;
/**
 * booking recounts a room's inventory at most this often per instance: a change with none for this
 * long recounts at once, and every change within it shares one recount when it is over (so a rush
 * of holds costs a recount per 100 ms, not one per hold, and the counts trail by at most this)
 */
export const ROOM_INVENTORY_RECOUNT_MS = 100;
/** the gateway re-reads the registry this often (a room's settings change on every instance within it) */
export const ROOM_DIRECTORY_REFRESH_MS = 1_000;
