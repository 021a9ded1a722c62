import { createLogger, protocolProblems, readSeatView } from "@concert/shared";
import { SEAT_MAP_SCRIPTS, SeatMap } from "../src/seat-map/seat-map";
import { call, clock, newConcert, nextId, passport, reserveIdBlock, startBooking, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
let b: Booking;
let model: SeatMap;
beforeAll(async () => {
  a = await startBooking();
  b = await startBooking();
  model = new SeatMap(a.db, a.redis, a.config.redisKeyPrefix, createLogger("seat-map-test", "silent"));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const hold = (inst: Booking, userId: number, concertDetailId: number, seatId: number) =>
  call(inst.url, "POST", "/api/reservations", { auth: passport({ userId }), body: { concertDetailId, userId, seatId } });
const freeSeats = (inst: Booking, concertDetailId: number) =>
  call(inst.url, "GET", `/api/concert/${concertDetailId}/seat`, { auth: passport({ userId: 1 }) });
/** The map as the gateway reads it, at the test clock's time. */
const mapOf = async (concertDetailId: number) =>
  readSeatView(await a.redis.hget(model.keys.performance(concertDetailId), "view"), clock.now().getTime());

describe("seat map read model", () => {
  it.each(SEAT_MAP_SCRIPTS.map((s) => [s.name, s] as const))("%s returns only codes it names and reads KEYS/ARGV by name", (_, script) => {
    expect(protocolProblems(script)).toEqual([]);
  });

  it("is built by a seat-map read that reaches booking, and every hold, release, payment and expiry writes it at once", async () => {
    const {
      detailIds: [d],
    } = await newConcert(a.db);
    expect(await mapOf(d)).toBeNull();
    expect((await freeSeats(a, d)).status).toBe(200);
    expect((await mapOf(d))?.free).toHaveLength(50);

    const user = nextId();
    const h = await hold(b, user, d, 3); // the other instance writes it
    expect(h.status).toBe(201);
    expect((await mapOf(d))?.free).not.toContain(3);
    const released = await call(a.url, "DELETE", `/api/reservations/${h.body.result.reservationId}`, { auth: passport({ userId: user }) });
    expect(released.status).toBe(200);
    expect((await mapOf(d))?.free).toContain(3);

    await call(a.url, "PATCH", "/api/users/point", { auth: passport({ userId: user }), body: { userId: user, point: 50_000 } });
    const h2 = await hold(a, user, d, 4);
    const paid = await call(b.url, "POST", "/api/payment", {
      auth: passport({ userId: user }),
      body: { userId: user, reservationId: h2.body.result.reservationId },
    });
    expect(paid.status).toBe(200);
    expect(paid.body.result).not.toHaveProperty("sold"); // the answer is unchanged
    expect(await a.redis.hget(model.keys.performance(d), "4")).toBe(`${h2.body.result.reservationId * 4 + 2}:S`);

    const h3 = await hold(a, nextId(), d, 5);
    expect((await mapOf(d))?.free).not.toContain(5);
    clock.advance(301_000); // past the hold: free by the clock at once, and the sweep writes it too
    expect((await mapOf(d))?.free).toContain(5);
    await a.app.sweep();
    expect(await a.redis.hget(model.keys.performance(d), "5")).toBe(`${h3.body.result.reservationId * 4 + 3}:F`);
    expect((await mapOf(d))?.free).toEqual((await freeSeats(a, d)).body.result);
  });

  it("keeps the newest state of a seat when changes arrive out of order", async () => {
    const {
      detailIds: [d],
    } = await newConcert(a.db);
    await model.rebuildPerformance(d);
    const key = model.keys.performance(d);
    // reservation 10 ended, then its hold's write arrives late: the seat stays free
    await model.changed([{ concertDetailId: d, seatNo: 9, reservationId: 10, to: { state: "ENDED" } }]);
    await model.changed([{ concertDetailId: d, seatNo: 9, reservationId: 10, to: { state: "HELD", untilMs: Date.now() + 60_000 } }]);
    expect(await a.redis.hget(key, "9")).toBe("43:F");
    // a newer reservation's hold replaces the older one's end
    await model.changed([{ concertDetailId: d, seatNo: 9, reservationId: 11, to: { state: "HELD", untilMs: 123 } }]);
    expect(await a.redis.hget(key, "9")).toBe("45:H123");
  });

  it("a rebuild whose map was lost after it read Postgres writes nothing; a rebuild never brings an older state back", async () => {
    const {
      detailIds: [d],
    } = await newConcert(a.db);
    const key = model.keys.performance(d);
    // a change written before the rebuild's snapshot commits: the merge keeps it (version 4r+1 > 0)
    await model.changed([{ concertDetailId: d, seatNo: 1, reservationId: 7, to: { state: "SOLD" } }]);
    await model.rebuildPerformance(d);
    expect(await a.redis.hget(key, "1")).toBe("30:S");
    expect(await a.redis.hget(key, "ready")).toBe("1");

    // the map is lost while a rebuild reads Postgres: that rebuild must not mark a fresh map ready
    await a.redis.del(key);
    const realQuery = a.db.$queryRaw.bind(a.db);
    const spy = jest.spyOn(a.db, "$queryRaw").mockImplementationOnce((async (...args: Parameters<typeof realQuery>) => {
      const rows = await realQuery(...args);
      await a.redis.del(key); // lost (expired, evicted) between the snapshot and the write
      await model.changed([{ concertDetailId: d, seatNo: 2, reservationId: 8, to: { state: "SOLD" } }]);
      return rows;
    }) as never);
    await model.rebuildPerformance(d);
    spy.mockRestore();
    expect(await a.redis.hget(key, "ready")).toBeNull();
    expect(await a.redis.hget(key, "2")).toBe("34:S");
    expect(await mapOf(d)).toBeNull(); // not served: the next read rebuilds
  });

  it("builds a concert's entry with its performances in start order, and drops the map of a performance that does not exist", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 3 });
    const dates = await call(a.url, "GET", `/api/concert/${concertId}/date`, { auth: passport({ userId: 1 }) });
    expect(dates.status).toBe(200);
    expect(await a.redis.hgetall(model.keys.concert(concertId))).toEqual({ name: `Concert ${concertId}`, dates: detailIds.join(",") });
    for (const d of detailIds) expect((await mapOf(d))?.free).toHaveLength(50);
    // one date's map lost while the concert's entry lives: the next dates read that reaches booking rebuilds it
    await a.redis.del(model.keys.performance(detailIds[1]));
    expect(await mapOf(detailIds[1])).toBeNull();
    expect((await call(b.url, "GET", `/api/concert/${concertId}/date`, { auth: passport({ userId: 1 }) })).status).toBe(200);
    expect((await mapOf(detailIds[1]))?.free).toHaveLength(50);
    expect(await model.rebuildPerformance(2_000_000_000)).toBe(false);
    expect(await a.redis.exists(model.keys.performance(2_000_000_000))).toBe(0);
  });

  it("reads that reach one instance at once while a concert is not built share one rebuild (one Postgres read per map)", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 5 });
    const reads = jest.spyOn(a.db, "$queryRaw");
    try {
      // the first admitted users of an on-sale, all asking for the dates before anything is built
      await Promise.all(Array.from({ length: 20 }, () => model.rebuildQuietly({ concertId })));
      expect(reads).toHaveBeenCalledTimes(1 + detailIds.length); // the concert's entry, then each performance once
      for (const d of detailIds) expect((await mapOf(d))?.free).toHaveLength(50);
      reads.mockClear();
      // built: nothing more is read; a lost map is rebuilt once for all who ask at once
      await a.redis.del(model.keys.performance(detailIds[2]));
      await Promise.all(Array.from({ length: 20 }, () => model.rebuildQuietly({ concertDetailId: detailIds[2] })));
      expect(reads).toHaveBeenCalledTimes(1);
      expect((await mapOf(detailIds[2]))?.free).toHaveLength(50);
    } finally {
      reads.mockRestore();
    }
  });
});
