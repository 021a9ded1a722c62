import RedisMock from "ioredis-mock";
import type Redis from "ioredis";
import {
  QueueStore,
  QueueTokens,
  isMalformedRoomToken,
  newQueueToken,
  roomQueueName,
  tokenConcertId,
  tokenUserId,
} from "../src/queue-store";
import { uuid } from "../src/api";

// Unit tests of the concert rooms' queue logic on ioredis-mock, with an injected clock.
const now = 1_700_000_000_000;
const clients: Redis[] = [];
afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));

function stores(name = `unit-${Math.random().toString(36).slice(2)}`) {
  const redis = new RedisMock();
  clients.push(redis);
  const options = { name, activeTtlSec: 60, sessionMaxSec: 60, idleTtlSec: 60, paymentReplaySec: 300, clock: () => now };
  return {
    redis,
    general: new QueueStore(redis, options),
    room: (concertId: number) => new QueueStore(redis, { ...options, concertId }),
    booking: new QueueTokens(redis, options),
  };
}
const settings = { tickMs: 10, batch: 2, maxActive: 10 };

describe("room tokens", () => {
  it("carry their concert (a room's) or none (the general room's), and their user, as RFC 9562 UUIDv8", () => {
    for (let i = 0; i < 200; i++) {
      const general = newQueueToken(77);
      expect(tokenConcertId(general)).toBeNull();
      expect(tokenUserId(general)).toBe(77);
      expect(uuid.safeParse(general).success).toBe(true);
      const room = newQueueToken(77, 123_456);
      expect(tokenConcertId(room)).toBe(123_456);
      expect(tokenUserId(room)).toBe(77);
      expect(uuid.safeParse(room).success).toBe(true);
    }
    expect(() => newQueueToken(1, 0)).toThrow(RangeError);
    // a room-shaped token naming concert 0 was never ours
    const forged = `00000000${newQueueToken(1, 5).slice(8)}`;
    expect(tokenConcertId(forged)).toBeNull();
    expect(isMalformedRoomToken(forged)).toBe(true);
    expect(tokenConcertId("not a token")).toBeNull();
  });

  it("a room's store keeps its own keys under its own hash tag, one live place per user per room", async () => {
    const { redis, general, room } = stores("tags");
    const r7 = room(7);
    expect(r7.keys.prefix).toBe(`{q:${roomQueueName("tags", 7)}}:`);
    expect(r7.keys.prefix).toBe("{q:tags:c7}:");
    const inRoom = await r7.issue(1);
    const inGeneral = await general.issue(1);
    expect(tokenConcertId(inRoom.token)).toBe(7);
    expect(tokenConcertId(inGeneral.token)).toBeNull();
    expect([inRoom.rank, inGeneral.rank]).toEqual([1, 1]);
    expect(await redis.zcard("{q:tags:c7}:waiting")).toBe(1);
    expect(await redis.zcard("{q:tags}:waiting")).toBe(1);
    // each store knows only its own room's tokens
    await expect(general.poll(1, inRoom.token)).rejects.toMatchObject({ code: "TOKEN_INVALID" });
    await expect(r7.poll(1, inGeneral.token)).rejects.toMatchObject({ code: "TOKEN_INVALID" });
    await expect(room(8).poll(1, inRoom.token)).rejects.toMatchObject({ code: "TOKEN_INVALID" });
  });

  it("a room's tick admits from its own queue only, with its own settings, and reports an idle room as idle", async () => {
    const { general, room } = stores();
    const r = room(3);
    for (let u = 1; u <= 5; u++) await r.issue(u);
    await general.issue(99);
    const tick = await r.tick({ ...settings, batch: 3 });
    expect(tick).toMatchObject({ ran: true, admitted: 3, waiting: 2, active: 3 });
    expect(await general.counts()).toEqual({ waiting: 1, active: 0 });
    const idle = await room(4).tick(settings);
    expect(idle).toMatchObject({ ran: true, admitted: 0, waiting: 0, active: 0 });
  });

  it("booking's one QueueTokens extends and finishes a room token in its own room", async () => {
    const { booking, room } = stores();
    const r = room(9);
    const { token } = await r.issue(5);
    await r.tick(settings);
    expect(await booking.extendActive(token, now + 120_000)).toBe(true);
    expect(await booking.finish(token, "paid")).toBe(true);
    expect(await r.poll(5, token)).toEqual({ status: "FINISHED", reason: "paid" });
    // a room's own store does not reach into another room
    const other = room(10);
    expect(await other.finish(token, "paid")).toBe(false);
  });
});
