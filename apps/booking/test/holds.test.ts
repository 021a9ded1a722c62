import {
  call,
  gateKey,
  clock,
  newConcert,
  nextId,
  passport,
  reserveIdBlock,
  sleep,
  snapshot,
  startBooking,
  type Booking,
} from "./support/booking";

reserveIdBlock();

let a: Booking;
let b: Booking;

beforeAll(async () => {
  a = await startBooking();
  b = await startBooking(); // a second instance: its own Postgres pool and Redis connection
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const hold = (inst: Booking, userId: number, concertDetailId: number, seatId: number, auth = passport({ userId })) =>
  call(inst.url, "POST", "/api/reservations", { auth, body: { concertDetailId, userId, seatId } });

describe("seat holds", () => {
  it("when 200 users hold one seat at once through two instances, exactly one wins and 199 get 409", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const users = Array.from({ length: 200 }, () => nextId());
    const started = Date.now();
    const replies = await Promise.all(users.map((u, i) => hold(i % 2 ? b : a, u, detail, 7)));
    const elapsed = Date.now() - started;

    const won = replies.filter((r) => r.status === 201);
    const lost = replies.filter((r) => r.status === 409);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(199);
    expect(new Set(lost.map((r) => r.body.error?.code))).toEqual(new Set(["SEAT_UNAVAILABLE"]));

    const rows = await a.db.reservation.findMany({ where: { concertDetailId: detail } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "HELD", seatNo: 7, id: won[0].body.result.reservationId });
    const seat = await a.db.seat.findUnique({ where: { concertDetailId_seatNo: { concertDetailId: detail, seatNo: 7 } } });
    expect(seat).toMatchObject({ status: "HELD", reservationId: rows[0].id });
    console.log(`200 concurrent holds of one seat through 2 instances: ${elapsed} ms`);
  });

  it("answers the hold with the reservation, price and expiry, and removes the seat from the free list", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: 70_000 });
    const user = nextId();
    const before = Date.now();
    const r = await hold(a, user, detailIds[0], 12);
    expect(r.status).toBe(201);
    expect(r.body.error).toBeNull();
    expect(r.body.result).toMatchObject({ concertDetailId: detailIds[0], seatId: 12, price: 70_000, status: "HELD" });
    const expiresAt = Date.parse(r.body.result.expiresAt);
    expect(expiresAt).toBeGreaterThan(before + 295_000);
    expect(expiresAt).toBeLessThan(Date.now() + 305_000);

    const seats = await call(b.url, "GET", `/api/concert/${detailIds[0]}/seat`);
    expect(seats.status).toBe(200);
    expect(seats.body.result).toHaveLength(49);
    expect(seats.body.result).not.toContain(12);
    expect(seats.body.result).toEqual([...seats.body.result].sort((x: number, y: number) => x - y));
  });

  it("when Redis has lost the seat's key, Postgres still refuses a second hold", async () => {
    const { detailIds } = await newConcert(a.db);
    const first = await hold(a, nextId(), detailIds[0], 3);
    expect(first.status).toBe(201);
    await a.redis.del(gateKey(a, detailIds[0], 3)); // Redis lost its data

    const scope = { detailIds };
    const before = await snapshot(a.db, scope);
    const second = await hold(b, nextId(), detailIds[0], 3);
    expect(second.status).toBe(409);
    expect(second.body.error?.code).toBe("SEAT_UNAVAILABLE");
    expect(await snapshot(a.db, scope)).toEqual(before);
    // the refused attempt left no stray gate key behind
    expect(await a.redis.exists(gateKey(a, detailIds[0], 3))).toBe(0);
  });

  it(`when a user already holds 4 seats, a fifth hold is refused with HOLD_LIMIT and nothing changes`, async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((seat) => hold(seat % 2 ? a : b, user, detailIds[0], seat)));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(4);
    const refused = replies.filter((r) => r.status !== 201);
    expect(refused.map((r) => [r.status, r.body.error?.code])).toEqual([
      [409, "HOLD_LIMIT"],
      [409, "HOLD_LIMIT"],
    ]);
    expect(await a.db.reservation.count({ where: { userId: user, status: "HELD" } })).toBe(4);
    // the refused seats are still free for others
    const seats = (await call(a.url, "GET", `/api/concert/${detailIds[0]}/seat`)).body.result as number[];
    expect(seats).toHaveLength(46);
    const other = refused.length
      ? await hold(
          a,
          nextId(),
          detailIds[0],
          [1, 2, 3, 4, 5, 6].find((s) => seats.includes(s))!,
        )
      : null;
    expect(other?.status).toBe(201);
  });

  it("with a 1-second hold, the seat is free again after it expires, another user can hold it, and the late payment is refused", async () => {
    const short = await startBooking({ seatHoldTtlSec: 1, db: a.db, redis: a.redis });
    try {
      const { detailIds } = await newConcert(a.db);
      const [late, next] = [nextId(), nextId()];
      await call(short.url, "PATCH", "/api/users/point", { body: { userId: late, point: 50_000 } });
      const first = await hold(short, late, detailIds[0], 20);
      expect(first.status).toBe(201);
      expect((await call(short.url, "GET", `/api/concert/${detailIds[0]}/seat`)).body.result).not.toContain(20);

      await sleep(1_100);
      // no sweeper has run: queries treat the expired hold as free at once
      expect((await call(short.url, "GET", `/api/concert/${detailIds[0]}/seat`)).body.result).toContain(20);
      const second = await hold(short, next, detailIds[0], 20);
      expect(second.status).toBe(201);

      const pay = await call(short.url, "POST", "/api/payment", {
        auth: passport({ userId: late }),
        body: { userId: late, reservationId: first.body.result.reservationId },
      });
      expect(pay.status).toBe(409);
      expect(pay.body.error?.code).toBe("HOLD_EXPIRED");
      expect(await a.db.user.findUnique({ where: { id: late } })).toMatchObject({ point: 50_000n });
      expect(await a.db.payment.count({ where: { userId: late } })).toBe(0);
      const seat = await a.db.seat.findUnique({ where: { concertDetailId_seatNo: { concertDetailId: detailIds[0], seatNo: 20 } } });
      expect(seat).toMatchObject({ status: "HELD", reservationId: second.body.result.reservationId });
    } finally {
      await short.close();
    }
  });

  it("the sweeper marks expired holds EXPIRED, frees their seats and clears their Redis keys, even when two instances sweep at once", async () => {
    const short = await startBooking({ seatHoldTtlSec: 1, db: a.db, redis: a.redis });
    try {
      const { detailIds } = await newConcert(a.db);
      const ids: number[] = [];
      for (const seat of [1, 2, 3]) {
        const r = await hold(short, nextId(), detailIds[0], seat);
        expect(r.status).toBe(201);
        ids.push(r.body.result.reservationId);
      }
      const key = (seat: number) => gateKey(a, detailIds[0], seat);
      expect(await a.redis.get(key(1))).toBe(`r:${ids[0]}`);
      clock.advance(1_100);
      const [s1, s2] = await Promise.all([a.app.sweep(), b.app.sweep()]);
      expect(s1.expired + s2.expired).toBeGreaterThanOrEqual(3);
      const rows = await a.db.reservation.findMany({ where: { id: { in: ids } } });
      expect(rows.map((r) => r.status)).toEqual(["EXPIRED", "EXPIRED", "EXPIRED"]);
      const seats = await a.db.seat.findMany({ where: { concertDetailId: detailIds[0], seatNo: { in: [1, 2, 3] } } });
      expect(seats.map((s) => [s.status, s.reservationId, s.holdUntil])).toEqual([
        ["FREE", null, null],
        ["FREE", null, null],
        ["FREE", null, null],
      ]);
      expect(await a.redis.exists(key(1), key(2), key(3))).toBe(0);
    } finally {
      await short.close();
    }
  });

  it("lists only future performances that still have a free seat, with their free seat count", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 2 });
    // one past performance that must not be listed or holdable
    const past = await a.db.concertDetail.create({ data: { concertId, startsAt: new Date(Date.now() - 3_600_000), seatPrice: 1 } });
    await a.db.seat.createMany({ data: Array.from({ length: 50 }, (_, i) => ({ concertDetailId: past.id, seatNo: i + 1 })) });
    // sell out the second performance
    await a.db.seat.updateMany({ where: { concertDetailId: detailIds[1] }, data: { status: "SOLD", reservationId: 1 } });
    await hold(a, nextId(), detailIds[0], 50);

    const r = await call(a.url, "GET", `/api/concert/${concertId}/date`);
    expect(r.status).toBe(200);
    expect(r.body.result).toEqual({
      concertName: `Concert ${concertId}`,
      concertInfos: [{ concertDetailId: detailIds[0], startsAt: expect.any(String), seatPrice: 50_000, availableSeats: 49 }],
    });
    const seats = await call(a.url, "GET", `/api/concert/${past.id}/seat`);
    expect(seats.body.result).toEqual([]);
    const late = await hold(a, nextId(), past.id, 1);
    expect([late.status, late.body.error?.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
  });
});

describe("refused holds change nothing", () => {
  const cases: [string, (d: number, u: number) => unknown, number, string][] = [
    ["seatId as a numeric string", (d, u) => ({ concertDetailId: d, userId: u, seatId: "5" }), 400, "VALIDATION_FAILED"],
    ["seatId 0", (d, u) => ({ concertDetailId: d, userId: u, seatId: 0 }), 400, "VALIDATION_FAILED"],
    ["seatId 51", (d, u) => ({ concertDetailId: d, userId: u, seatId: 51 }), 400, "VALIDATION_FAILED"],
    ["seatId 1.5", (d, u) => ({ concertDetailId: d, userId: u, seatId: 1.5 }), 400, "VALIDATION_FAILED"],
    ["a negative userId", (d) => ({ concertDetailId: d, userId: -1, seatId: 5 }), 400, "VALIDATION_FAILED"],
    ["a missing concertDetailId", (_d, u) => ({ userId: u, seatId: 5 }), 400, "VALIDATION_FAILED"],
    ["an unknown field", (d, u) => ({ concertDetailId: d, userId: u, seatId: 5, price: 1 }), 400, "VALIDATION_FAILED"],
    ["an unknown performance", (_d, u) => ({ concertDetailId: 2_000_000_000, userId: u, seatId: 5 }), 404, "NOT_FOUND"],
  ];
  it.each(cases.map(([name, body, status, code]) => [name, status, code, body] as const))(
    "%s → %i %s",
    async (_name, status, code, body) => {
      const { detailIds } = await newConcert(a.db);
      const user = nextId();
      const scope = { userIds: [user], detailIds };
      const before = await snapshot(a.db, scope);
      const r = await call(a.url, "POST", "/api/reservations", { auth: passport({ userId: user }), body: body(detailIds[0], user) });
      expect([r.status, r.body.error?.code, r.body.result]).toEqual([status, code, null]);
      if (status === 400) expect(r.body.error?.details?.field).toBeTruthy();
      expect(await snapshot(a.db, scope)).toEqual(before);
    },
  );

  it("a hold for another user than the passport's is 403 TOKEN_USER_MISMATCH", async () => {
    const { detailIds } = await newConcert(a.db);
    const [me, other] = [nextId(), nextId()];
    const before = await snapshot(a.db, { userIds: [me, other], detailIds });
    const r = await hold(a, other, detailIds[0], 1, passport({ userId: me }));
    expect([r.status, r.body.error?.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
    expect(await snapshot(a.db, { userIds: [me, other], detailIds })).toEqual(before);
  });

  it("unknown concerts and performances are 404, ids that are not positive integers 400", async () => {
    expect((await call(a.url, "GET", "/api/concert/2000000000/date")).status).toBe(404);
    expect((await call(a.url, "GET", "/api/concert/2000000000/seat")).body.error?.code).toBe("NOT_FOUND");
    for (const bad of ["0", "-1", "abc", "1.5", "01", "99999999999"]) {
      const r = await call(a.url, "GET", `/api/concert/${bad}/seat`);
      expect([bad, r.status, r.body.error?.code]).toEqual([bad, 400, "VALIDATION_FAILED"]);
    }
  });
});
