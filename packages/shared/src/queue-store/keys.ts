import { randomBytes } from "node:crypto";
import { MAX_ID } from "../api";

/**
 * The Redis key layout of one queue. Every key shares the hash tag `{q:<name>}` so that a Redis
 * Cluster puts them in one slot and the Lua scripts can touch them together (every key a script
 * touches is passed to it as a KEY, except `t:<token>`, which it builds from the prefix).
 *
 * A waiting user costs no key of their own: only one entry in each of `waiting`, `seen` and
 * `users` (~300 B in all at a million waiting, instead of ~620 B with a hash and a string per token).
 * A token carries its user id (see below), so a script goes from a token to its user's entries.
 *
 *   {q:main}:seq           string  the last arrival score given (see `waiting`)
 *   {q:main}:waiting       zset    userId -> arrival score = max(arrival ms × 1000, previous + 1):
 *                                  strictly the order in which Redis ran the issues; arrival ms =
 *                                  floor(score / 1000). Rank = ZRANK + 1.
 *   {q:main}:seen          zset    userId -> last heartbeat of a waiting user (ms)
 *   {q:main}:users         hash    userId -> the user's live token (waiting or active; one per user)
 *   {q:main}:active        zset    token -> expiry of an admitted token (ms)
 *   {q:main}:t:<token>     hash    admitted and finished tokens only (bounded by max active and the
 *                                  retention): u = userId, st = A|F, cap = the session's absolute end
 *                                  (ms: admission + ACTIVE_SESSION_MAX_SEC), r = finish reason, fa =
 *                                  finished at (ms); a finished one expires after the retention
 *   {q:main}:tick          string  last tick slot that ran
 *   {q:main}:admits        zset    admissions of the last minute
 *   {q:main}:rate          string  admitted per second over the last minute
 *   {q:main}:cfg           hash    live admission settings set by operators
 *   {q:main}:stats         hash    running totals
 *   {q:main}:pre           zset    a concert room with a scheduled opening, before it: userId -> join
 *                                  time (ms) of the pre-queue (no rank: the order is drawn at the opening)
 *   {q:main}:draw          hash    the opening's lottery record (its existence: the draw is done)
 *   {q:main}:drawlock      string  the instance drawing the lottery (SET NX: one draws)
 *   {q:main}:inv           hash    a concert room's inventory, written by booking (free, held, sold, at):
 *                                  admission stays within admitPerFreeSeat × free; nothing free or held: SOLD_OUT
 *
 * A user's token states: WAITING = in `waiting` with `users[userId]` = token (no `t:` hash);
 * IN_PROGRESS = `t:<token>` st=A and in `active`; FINISHED = `t:<token>` st=F (for the retention).
 *
 * Queue tokens are RFC 9562 UUIDv8, lowercase: `xxxxxxxx-xxxx-8xxx-yxxx-rrrruuuuuuuu`, where
 * `8` is the version, y ∈ 8..b carries the RFC variant bits, the last 8 hex digits `uuuuuuuu`
 * are the user id (1 .. 2^31-1, hex) and every other bit is random. A token that is not shaped so
 * names no user (an unknown token). The bit after the variant says which room the token is of:
 * - y ∈ 8, 9: the general room (the queue `<name>`); 89 random bits;
 * - y ∈ a, b: a concert's own room (the queue `<name>:c<concertId>`, {@link roomQueueName}), the
 *   first 8 hex digits being the concert id; 57 random bits (the token is also bound to its user
 *   and checked against Redis on every use, and issues are rate-limited).
 * So every script and app goes from a token to its room's keys without a lookup.
 */
export interface QueueKeys {
  prefix: string;
  seq: string;
  waiting: string;
  seen: string;
  users: string;
  active: string;
  tick: string;
  admits: string;
  rate: string;
  cfg: string;
  stats: string;
  pre: string;
  draw: string;
  drawLock: string;
  inv: string;
}

export function queueKeys(name: string): QueueKeys {
  const prefix = `{q:${name}}:`;
  return {
    prefix,
    seq: `${prefix}seq`,
    waiting: `${prefix}waiting`,
    seen: `${prefix}seen`,
    users: `${prefix}users`,
    active: `${prefix}active`,
    tick: `${prefix}tick`,
    admits: `${prefix}admits`,
    rate: `${prefix}rate`,
    cfg: `${prefix}cfg`,
    stats: `${prefix}stats`,
    pre: `${prefix}pre`,
    draw: `${prefix}draw`,
    drawLock: `${prefix}drawlock`,
    inv: `${prefix}inv`,
  };
}

const V8_TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Random bytes are drawn from a pool refilled 256 tokens at a time (as crypto.randomUUID does):
// one randomBytes call per token showed up in the profile of issued tokens (bench/profile.mjs).
let pool = Buffer.alloc(0);
let offset = 0;
function random16(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(16 * 256);
    offset = 0;
  }
  offset += 16;
  return pool.subarray(offset - 16, offset);
}

/** The queue name of a concert's own room: its keys are tagged `{q:<name>:c<concertId>}`. */
export function roomQueueName(name: string, concertId: number): string {
  return `${name}:c${concertId}`;
}

const isId = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_ID;

/**
 * A new queue token (UUIDv8) for the user: the user id in the last 8 hex digits; of the general
 * room (`concertId` null or absent), or of that concert's own room (its id in the first 8 hex digits).
 */
export function newQueueToken(userId: number, concertId: number | null = null): string {
  if (!isId(userId)) throw new RangeError(`not a user id: ${userId}`);
  if (concertId !== null && !isId(concertId)) throw new RangeError(`not a concert id: ${concertId}`);
  const b = random16();
  b[6] = (b[6] & 0x0f) | 0x80; // version 8
  // RFC 9562 variant (10xx), then the room bit: 0 general, 1 a concert's own room
  b[8] = (b[8] & 0x1f) | (concertId === null ? 0x80 : 0xa0);
  if (concertId !== null) b.writeUInt32BE(concertId, 0);
  b.writeUInt32BE(userId, 12);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The user id a queue token carries, or null if it is not a queue token (no user). */
export function tokenUserId(token: string): number | null {
  if (!V8_TOKEN.test(token)) return null;
  const userId = parseInt(token.slice(28), 16);
  return userId >= 1 && userId <= MAX_ID ? userId : null;
}

/**
 * The concert whose own room a queue token is of, or null for the general room's tokens (and for
 * anything that is not a queue token: those name no room and are unknown wherever they are looked up).
 */
export function tokenConcertId(token: string): number | null {
  if (!V8_TOKEN.test(token) || token[19] < "a") return null;
  const concertId = parseInt(token.slice(0, 8), 16);
  return isId(concertId) ? concertId : null;
}

/** Whether a token is shaped as one of a concert's own room, yet names no valid concert (never issued by us). */
export function isMalformedRoomToken(token: string): boolean {
  return V8_TOKEN.test(token) && token[19] >= "a" && tokenConcertId(token) === null;
}
