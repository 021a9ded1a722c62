import { z } from "zod";
import { ownRoomSettings } from "./admission";
import { AppError } from "./errors";

import { DEFAULT_MAX_HOLDS_PER_USER, MAX_ID, MAX_SEATS_PER_HOLD, RESERVATION_PAGE, SEATS_PER_PERFORMANCE } from "./limits";
export { DEFAULT_MAX_HOLDS_PER_USER, MAX_ID, MAX_SEATS_PER_HOLD, RESERVATION_PAGE, SEATS_PER_PERFORMANCE };

/** Ids are Postgres `integer`s: 1 .. 2^31-1. JSON numbers only, never numeric strings. */
export const id = z.number().int().min(1).max(MAX_ID);
/**
 * The digits of an id in a path or query: no sign, no leading zero, at most 10 digits (the range
 * check is {@link id}'s). Unanchored, so a path matcher can embed it; {@link ID_PATTERN} is anchored.
 */
export const ID_DIGITS = "[1-9][0-9]{0,9}";
export const ID_PATTERN = new RegExp(`^${ID_DIGITS}$`);
/** A path segment that must be a positive integer id. */
export const idParam = z
  .string()
  .regex(ID_PATTERN, "must be a positive integer")
  .transform(Number)
  .pipe(id)
  .describe("positive integer id");
export const seatNumber = z.number().int().min(1).max(SEATS_PER_PERFORMANCE);
export const uuid = z.string().uuid();

export const TokenStatus = z.enum(["WAITING", "IN_PROGRESS", "FINISHED"]);
export type TokenStatus = z.infer<typeof TokenStatus>;

// ---- gateway: queue ----
/** `concertId`: join that concert's own room (absent: the general room, whose token works for every concert without one). */
export const issueTokenBody = z.strictObject({
  userId: id,
  concertId: id.optional().describe("join this concert's own room; a concert without one is served by the general room"),
});
/** Asking again while queued: the live token goes back only to a caller presenting it (else 409 ALREADY_QUEUED). */
export const issueTokenHeaders = z.object({
  token: z.string().optional().describe("the user's live queue token, to resume its place (a missing or malformed one is no proof)"),
});
export const userIdPath = z.strictObject({ userId: idParam });
/** Why a token is FINISHED. */
export const FinishedReason = z.enum(["PAID", "EXPIRED", "EVICTED", "SOLD_OUT", "CLOSED"]);
export type FinishedReason = z.infer<typeof FinishedReason>;
export const tokenView = z.object({
  token: uuid,
  status: TokenStatus,
  rank: z.number().int().min(1).nullable(),
  estimatedWaitSec: z.number().int().min(0).nullable(),
  /** the concert whose own room the token is of; null: the general room */
  concertId: id.nullable().describe("the concert whose own room this token is of; null for the general room"),
  reason: FinishedReason.optional().describe("FINISHED only: why"),
  opensAt: z.string().optional().describe("in a scheduled room's pre-queue (rank null): when the sale opens and the order is drawn"),
  prequeueCount: z.number().int().min(0).optional().describe("in the pre-queue: how many are in it"),
  seatsHeld: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("WAITING in a concert room when no seat is free now: how many seats are held (they may come back when a hold lapses)"),
});
export type TokenView = z.infer<typeof tokenView>;
/**
 * GET /api/queue/stream?userId=&token= (Server-Sent Events). EventSource cannot set headers, so
 * the token travels in the query; it is checked like the `token` header of the poll route.
 */
export const queueStreamQuery = z.strictObject({
  userId: idParam,
  token: z.string().optional().describe("the queue token (EventSource cannot send headers); or the `token` header"),
});
/** One `data:` frame of the stream: the token view without the token. */
export type QueueStreamEvent = Omit<TokenView, "token">;

// ---- booking ----
export const concertIdPath = z.strictObject({ concertId: idParam });
export const concertDetailIdPath = z.strictObject({ concertDetailId: idParam });
/**
 * A hold names one seat (`seatId`, answered with one hold) or several (`seatIds`, held all or
 * none and answered with the list); exactly one of the two. How many a user may still hold
 * (MAX_HOLDS_PER_USER) is booking's rule (409 HOLD_LIMIT); this bounds only the list's length.
 */
export const reserveBody = z
  .strictObject({
    concertDetailId: id,
    userId: id,
    seatId: seatNumber.optional(),
    seatIds: z.array(seatNumber).min(1).max(MAX_SEATS_PER_HOLD).optional().describe("several seats, held together or not at all"),
  })
  .refine((b) => (b.seatId === undefined) !== (b.seatIds === undefined), {
    message: "give exactly one of seatId or seatIds",
    path: ["seatId"],
  })
  .refine((b) => b.seatIds === undefined || new Set(b.seatIds).size === b.seatIds.length, {
    message: "seat numbers must be distinct",
    path: ["seatIds"],
  });
export type ReserveBody = z.infer<typeof reserveBody>;
/** The seats a hold asks for, ascending (the order gates, locks and rows are taken in). */
export const seatsOfHold = (body: ReserveBody): number[] => [...(body.seatIds ?? [body.seatId as number])].sort((a, b) => a - b);
export const reservationIdPath = z.strictObject({ reservationId: idParam });
export const chargeBody = z.strictObject({ userId: id, point: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
export const paymentBody = z
  .strictObject({
    userId: id,
    reservationId: id.optional(),
    reservationIds: z.array(id).min(1).max(50).optional(),
    point: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .refine((b) => (b.reservationId === undefined) !== (b.reservationIds === undefined), {
    message: "give exactly one of reservationId or reservationIds",
    path: ["reservationId"],
  });
export const idempotencyKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII only");
/** Headers of POST /api/payment that booking reads (the gateway passes them on). */
export const paymentHeaders = z.object({
  "idempotency-key": idempotencyKey.optional().describe("retry with the same key to get the same answer"),
});
/** A hold takes the same Idempotency-Key: a retry with it returns the hold it made (the same key for another seat is 409). */
export const holdHeaders = paymentHeaders;

// ---- booking: cancel and refund, my tickets (issue 15) ----
/** The owner cancelling (in AUTH_MODE=jwt the gateway fills in the verified user when absent). */
export const cancelBody = z.strictObject({ userId: id });
/** A cancel takes an Idempotency-Key too: a retry with it gets the first answer (another cancel is 409 ALREADY_CANCELLED). */
export const cancelHeaders = paymentHeaders;
/** `?limit=` of a page: 1..RESERVATION_PAGE.max, RESERVATION_PAGE.default when absent. */
const pageLimit = z
  .string()
  .regex(ID_PATTERN, "must be a positive integer")
  .transform(Number)
  .pipe(z.number().int().min(1).max(RESERVATION_PAGE.max))
  .optional()
  .transform((n) => n ?? RESERVATION_PAGE.default)
  .describe(`page size, 1-${RESERVATION_PAGE.max} (default ${RESERVATION_PAGE.default})`);
/** Keyset pagination: `before` is the previous page's `nextCursor` (a reservation id); newest first. */
export const myReservationsQuery = z.strictObject({
  limit: pageLimit,
  before: idParam.optional().describe("the previous page's nextCursor: only reservations older than it"),
});

/** Parses with a zod schema or throws 400 VALIDATION_FAILED naming the field. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.length ? issue.path.join(".") : where;
  const message = issue.code === "unrecognized_keys" ? `unknown field(s): ${(issue as { keys: string[] }).keys.join(", ")}` : issue.message;
  throw new AppError("VALIDATION_FAILED", `${field}: ${message}`, {
    field: issue.code === "unrecognized_keys" ? (issue as { keys: string[] }).keys[0] : field,
    issues: parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.join("."), message: i.message })),
  });
}

// ---- response shapes (documented in OpenAPI; tests check real answers against them) ----
export const performanceList = z.object({
  concertName: z.string(),
  concertInfos: z.array(
    z.object({
      concertDetailId: id,
      startsAt: z.string().describe("ISO 8601 date-time"),
      seatPrice: z.number().int().min(0),
      availableSeats: z.number().int().min(0).max(SEATS_PER_PERFORMANCE),
    }),
  ),
});
export const seatList = z.array(seatNumber).describe("free seat numbers, ascending");
export const holdView = z.object({
  reservationId: id,
  concertDetailId: id,
  seatId: seatNumber,
  price: z.number().int().min(0),
  status: z.literal("HELD"),
  expiresAt: z.string().describe("ISO 8601 date-time when the hold lapses"),
});
/** The answer to a hold of `seatIds`: one hold per seat, ascending by seat, all lapsing at `expiresAt`. */
export const multiHoldView = z.object({
  reservations: z.array(holdView),
  expiresAt: z.string().describe("ISO 8601 date-time when the holds lapse"),
});
export const ReservationStatus = z.enum(["HELD", "CONFIRMED", "EXPIRED", "CANCELLED"]);
/** A reservation as it is now (the answer to a release: EXPIRED, its hold ended by its owner). */
export const reservationView = holdView.extend({
  status: ReservationStatus,
  expiresAt: z.string().describe("ISO 8601 date-time when the hold lapsed or lapses"),
});
export const pointView = z.object({ userId: id, point: z.number().int().min(0) });
export const paymentView = z.object({
  paymentId: id,
  reservationIds: z.array(id),
  amount: z.number().int().min(0),
  balance: z.number().int().min(0),
  status: z.literal("PAID"),
});
export type PerformanceList = z.infer<typeof performanceList>;
export type HoldView = z.infer<typeof holdView>;
export type MultiHoldView = z.infer<typeof multiHoldView>;
export type ReservationView = z.infer<typeof reservationView>;
export type PointView = z.infer<typeof pointView>;
export type PaymentView = z.infer<typeof paymentView>;
export const refundView = z.object({
  amount: z.number().int().min(0),
  /** the payment the points went back from */
  paymentId: id,
  /** the REFUND row of point_ledger */
  ledgerId: id,
  refundedAt: z.string().describe("ISO 8601 date-time"),
});
export const cancelView = z.object({
  reservationId: id,
  status: z.literal("CANCELLED"),
  refund: refundView,
  balance: z.number().int().min(0).describe("the balance right after the refund"),
});
export const ticketView = z.object({
  reservationId: id,
  concert: z.object({ id, name: z.string() }),
  date: z.object({ concertDetailId: id, startsAt: z.string().describe("ISO 8601 date-time") }),
  seatId: seatNumber,
  price: z.number().int().min(0),
  status: ReservationStatus.describe("a hold past its expiresAt is EXPIRED even before the sweep marks it"),
  createdAt: z.string().describe("ISO 8601 date-time"),
  expiresAt: z.string().describe("ISO 8601 date-time when the hold lapses (or lapsed)"),
  payment: z.object({ paymentId: id, paidAt: z.string() }).nullable().describe("set once paid (CONFIRMED, CANCELLED)"),
  refund: refundView.nullable().describe("set when CANCELLED"),
});
export const ticketList = z.object({
  reservations: z.array(ticketView).describe("newest first"),
  nextCursor: id.nullable().describe("pass as `before` for the next page; null on the last page"),
});
export type RefundView = z.infer<typeof refundView>;
export type CancelView = z.infer<typeof cancelView>;
export type TicketView = z.infer<typeof ticketView>;
export type TicketList = z.infer<typeof ticketList>;

/** GET /rooms: a concert's own waiting room as the page shows it. */
export const RoomStatus = z.enum(["SCHEDULED", "PREQUEUE", "OPEN", "SOLD_OUT", "CLOSED"]);
export const roomView = z.object({
  concertId: id,
  name: z.string(),
  status: RoomStatus.describe("SCHEDULED: before the pre-queue; PREQUEUE: joinable, no ranks yet; OPEN; SOLD_OUT; CLOSED"),
  opensAt: z.string().nullable().describe("ISO 8601: the opening (its lottery); null when the sale has no scheduled opening"),
  prequeueOpensAt: z.string().nullable(),
  closesAt: z.string().nullable(),
  prequeueCount: z.number().int().min(0),
});
export const roomList = z.object({ rooms: z.array(roomView) });
export type RoomView = z.infer<typeof roomView>;

// ---- operators: concerts and their rooms (gateway /admin, forwarded to booking's internal routes) ----
const isoDateTime = z.iso.datetime({ offset: true }).describe("ISO 8601 date-time");
/**
 * A room's settings as an operator gives them: any of them (the rest stay as they were, or the
 * gateway's configured values); `saleClosesAt: null` removes the close.
 */
export const roomSettingsPatch = z
  .strictObject(ownRoomSettings.shape)
  .refine((r) => !r.saleOpensAt || !r.saleClosesAt || Date.parse(r.saleClosesAt) > Date.parse(r.saleOpensAt), {
    message: "saleClosesAt must be after saleOpensAt",
    path: ["saleClosesAt"],
  });
/** POST /admin/concerts: a concert, its dates (SEATS_PER_PERFORMANCE seats each) and, optionally, a room of its own. */
export const createConcertBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  seatPrice: z.number().int().min(0).max(100_000_000),
  dates: z
    .array(isoDateTime)
    .min(1)
    .max(100)
    .refine((d) => new Set(d.map((x) => Date.parse(x))).size === d.length, { message: "dates must be distinct" }),
  room: roomSettingsPatch.optional(),
});
export type CreateConcertBody = z.infer<typeof createConcertBody>;
export const createdConcert = z.object({ concertId: id, concertDetailIds: z.array(id) });
export type CreatedConcert = z.infer<typeof createdConcert>;

/**
 * Booking's internal routes, called only by the gateway with an operator passport (`operator: true`):
 * never forwarded from a client (the gateway forwards only the public table's booking routes).
 */
export const INTERNAL_PATHS = {
  createConcert: "/api/internal/concerts",
  concertRoom: "/api/internal/concerts/:concertId/room",
  /** `?details=1,2&reservations=3`: the concert each performance and reservation belongs to */
  concertOf: "/api/internal/concert-of",
} as const;
const idList = z
  .string()
  .regex(/^[1-9][0-9]{0,9}(,[1-9][0-9]{0,9}){0,49}$/, "comma-separated ids (at most 50)")
  .transform((s) => s.split(",").map(Number))
  .pipe(z.array(id))
  .optional();
export const concertOfQuery = z.strictObject({ details: idList, reservations: idList });
/** id → concertId; ids that do not exist are left out */
export const concertOfView = z.object({ details: z.record(z.string(), id), reservations: z.record(z.string(), id) });
export type ConcertOfView = z.infer<typeof concertOfView>;
