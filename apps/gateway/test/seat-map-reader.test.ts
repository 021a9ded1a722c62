import { randomUUID } from "node:crypto";
import { DEFAULT_REDIS_URL, DATES_REUSE_MS, seatMapKeys } from "@concert/shared";
import Redis from "ioredis";
import { SeatMapReader } from "../src/forward/seat-map-reader";

describe("SeatMapReader (real Redis)", () => {
  const redis = new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
  const prefix = `test:seatmap:${randomUUID()}`;
  const keys = seatMapKeys(prefix);
  let now = 1_000;
  const reader = new SeatMapReader(redis, prefix, () => now);
  afterAll(async () => {
    const all = await redis.keys(`${prefix}:*`);
    if (all.length) await redis.del(...all);
    redis.disconnect();
  });

  it("answers the dates as booking does (future dates with a free seat, in the concert's order) and reuses one answer for DATES_REUSE_MS only", async () => {
    await redis.hset(keys.concert(1), { name: "Show", dates: "11,12,13" });
    await redis.hset(keys.performance(11), "view", `500;100;;`); // started
    await redis.hset(keys.performance(12), "view", `90000000;200;3,4;9:1500`);
    await redis.hset(keys.performance(13), "view", `95000000;300;;8:999999`); // sold out but for a live hold
    const first = await reader.dates(1);
    expect(first).toEqual({
      concertName: "Show",
      concertInfos: [{ concertDetailId: 12, startsAt: new Date(90_000_000).toISOString(), seatPrice: 200, availableSeats: 2 }],
    });
    // a change within DATES_REUSE_MS is not seen by this instance yet; right after it, it is
    await redis.hset(keys.performance(12), "view", `90000000;200;3;9:1500`);
    now += DATES_REUSE_MS - 1;
    expect((await reader.dates(1))?.concertInfos[0].availableSeats).toBe(2);
    now += 1;
    expect((await reader.dates(1))?.concertInfos[0].availableSeats).toBe(1);
    now = 1_500; // past the hold of seat 9 (and past the reuse): free again
    now += DATES_REUSE_MS;
    expect((await reader.dates(1))?.concertInfos[0].availableSeats).toBe(2);
  });

  it("answers null (the gateway forwards) while the concert or any of its dates is not built, and does not keep that answer", async () => {
    expect(await reader.dates(2)).toBeNull();
    await redis.hset(keys.concert(2), { name: "Other", dates: "21" });
    expect(await reader.dates(2)).toBeNull();
    await redis.hset(keys.performance(21), "view", `90000000;100;1;`);
    expect((await reader.dates(2))?.concertInfos).toHaveLength(1); // within DATES_REUSE_MS of the null, read again
    expect(await reader.freeSeats(22)).toBeNull();
    expect(await reader.freeSeats(21)).toEqual([1]);
  });
});
