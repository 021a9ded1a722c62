import {
  call,
  gateKey,
  clock,
  newConcert,
  nextId,
  passport,
  reserveIdBlock,
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

const PRICE = 50_000;

const holdMany = (inst: Booking, userId: number, concertDetailId: number, seatIds: number[], key?: string) =>
  call(inst.url, "POST", "/api/reservations", {
    auth: passport({ userId }),
    body: { concertDetailId, userId, seatIds },
    headers: key ? { "idempotency-key": key } : {},
  });
const release = (inst: Booking, userId: number, reservationId: number) =>
  call(inst.url, "DELETE", `/api/reservations/${reservationId}`, { auth: passport({ userId }) });
const charge = (inst: Booking, userId: number, point: number) => call(inst.url, "PATCH", "/api/users/point", { body: { userId, point } });
const pay = (inst: Booking, userId: number, reservationId: number) =>
  call(inst.url, "POST", "/api/payment", { auth: passport({ userId }), body: { userId, reservationId, point: PRICE } });
const freeSeats = async (inst: Booking, detail: number): Promise<number[]> =>
  (await call(inst.url, "GET", `/api/concert/${detail}/seat`)).body.result as number[];
const seatKey = (detail: number, seat: number) => gateKey(a, detail, seat);

/** Every seat gate key of a performance and what it names. */
async function gateKeys(detail: number): Promise<Map<number, string>> {
  const keys = await a.redis.keys(seatKey(detail, 0).replace(/0$/, "*"));
  const values = keys.length ? await a.redis.mget(...keys) : [];
  return new Map(keys.map((k, i) => [Number(k.split(":").pop()), values[i] ?? ""]));
}

/** Seat number → reservation id of every live hold of a performance, from Postgres. */
async function liveHolds(detail: number): Promise<Map<number, number>> {
  const rows = await a.db.$queryRaw<{ seat_no: number; id: number }[]>`
    SELECT seat_no, id FROM reservation WHERE concert_detail_id = ${detail} AND status = 'HELD' AND expires_at > now()`;
  return new Map(rows.map((r) => [r.seat_no, r.id]));
}

describe("holding several seats at once", () => {
  it("holds every listed seat with one expiry, answers one hold per seat ascending, and the free list drops them", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
    const user = nextId();
    const r = await holdMany(a, user, detailIds[0], [9, 3, 5]);
    expect(r.status).toBe(201);
    const { reservations, expiresAt } = r.body.result;
    expect(reservations.map((h: { seatId: number }) => h.seatId)).toEqual([3, 5, 9]);
    for (const h of reservations) expect(h).toMatchObject({ concertDetailId: detailIds[0], price: PRICE, status: "HELD", expiresAt });
    const free = await freeSeats(b, detailIds[0]);
    expect(free).toHaveLength(47);
    expect(free).not.toContain(3);
    const keys = await gateKeys(detailIds[0]);
    for (const h of reservations) expect(keys.get(h.seatId)).toBe(`r:${h.reservationId}`);
  });

  it("refuses the whole set when one seat is taken, naming it in details.seatIds, and changes nothing", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const other = nextId();
    const me = nextId();
    expect((await holdMany(a, other, detail, [4])).status).toBe(201);
    const scope = { userIds: [me, other], detailIds };
    const before = await snapshot(a.db, scope);
    const r = await holdMany(b, me, detail, [2, 4, 6]);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "SEAT_UNAVAILABLE", details: { seatIds: [4] } });
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect([...(await gateKeys(detail)).keys()]).toEqual([4]); // seats 2 and 6 were given back
  });

  it("names the seats Postgres refused when the gate had no key (Redis lost it) and rolls the others back", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const other = nextId();
    const me = nextId();
    expect((await holdMany(a, other, detail, [7, 8])).status).toBe(201);
    await a.redis.del(seatKey(detail, 8));
    const scope = { userIds: [me, other], detailIds };
    const before = await snapshot(a.db, scope);
    const r = await holdMany(a, me, detail, [1, 8]);
    expect(r.status).toBe(409);
    expect(r.body.error).toMatchObject({ code: "SEAT_UNAVAILABLE", details: { seatIds: [8] } });
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect(await a.redis.exists(seatKey(detail, 1), seatKey(detail, 8))).toBe(0);
  });

  it("refuses more seats than the user may still hold with 409 HOLD_LIMIT and changes nothing", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const me = nextId();
    const scope = { userIds: [me], detailIds };
    const tooMany = await holdMany(a, me, detail, [1, 2, 3, 4, 5]); // the limit is 4
    expect(tooMany.status).toBe(409);
    expect(tooMany.body.error).toMatchObject({ code: "HOLD_LIMIT", details: { maxHolds: 4 } });
    expect((await holdMany(a, me, detail, [1, 2])).status).toBe(201);
    const before = await snapshot(a.db, scope);
    const r = await holdMany(a, me, detail, [10, 11, 12]); // 2 held + 3 > 4
    expect(r.status).toBe(409);
    expect(r.body.error?.code).toBe("HOLD_LIMIT");
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect([...(await gateKeys(detail)).keys()].sort((x, y) => x - y)).toEqual([1, 2]);
  });

  it.each([
    ["both seatId and seatIds", { seatId: 1, seatIds: [2] }],
    ["neither", {}],
    ["an empty list", { seatIds: [] }],
    ["a repeated seat", { seatIds: [3, 3] }],
    ["a seat out of range", { seatIds: [1, 51] }],
    ["more seats than a performance has", { seatIds: Array.from({ length: 51 }, (_, i) => i + 1) }],
  ])("refuses %s with 400 VALIDATION_FAILED and changes nothing", async (_what, seats) => {
    const { detailIds } = await newConcert(a.db);
    const me = nextId();
    const scope = { userIds: [me], detailIds };
    const before = await snapshot(a.db, scope);
    const r = await call(a.url, "POST", "/api/reservations", { body: { concertDetailId: detailIds[0], userId: me, ...seats } });
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe("VALIDATION_FAILED");
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect((await gateKeys(detailIds[0])).size).toBe(0);
  });

  it("refuses a set with an unknown seat of a real performance: 404, nothing held", async () => {
    const { detailIds } = await newConcert(a.db);
    const missing = nextId();
    const me = nextId();
    const r = await holdMany(a, me, missing, [1, 2]);
    expect(r.status).toBe(404);
    expect(r.body.error?.code).toBe("NOT_FOUND");
    expect((await gateKeys(missing)).size).toBe(0);
    expect(await snapshot(a.db, { userIds: [me], detailIds })).toMatchObject({ reservations: 0 });
  });

  it("replays a multi-seat hold under its Idempotency-Key; the key for another set is 409 IDEMPOTENCY_CONFLICT", async () => {
    const { detailIds } = await newConcert(a.db);
    const me = nextId();
    const first = await holdMany(a, me, detailIds[0], [5, 6], "pair-1");
    expect(first.status).toBe(201);
    const again = await holdMany(b, me, detailIds[0], [6, 5], "pair-1");
    expect(again.status).toBe(201);
    expect(again.body.result).toEqual(first.body.result);
    const other = await holdMany(a, me, detailIds[0], [5, 7], "pair-1");
    expect(other.status).toBe(409);
    expect(other.body.error?.code).toBe("IDEMPOTENCY_CONFLICT");
    expect(await a.db.reservation.count({ where: { userId: me } })).toBe(2);
  });

  it("when 20 users hold random overlapping sets of 2-4 seats at once through two instances: all or nothing, no seat twice, gate == Postgres", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const pool = Array.from({ length: 16 }, (_, i) => i + 1);
    let seed = 15;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const sets = Array.from({ length: 20 }, () => {
      const size = 2 + Math.floor(random() * 3);
      return [...pool].sort(() => random() - 0.5).slice(0, size);
    });
    const users = sets.map(() => nextId());
    const started = Date.now();
    const replies = await Promise.all(sets.map((set, i) => holdMany(i % 2 ? b : a, users[i], detail, set)));
    const elapsed = Date.now() - started;

    expect(new Set(replies.map((r) => r.status))).toEqual(new Set([201, 409]));
    const holds = await liveHolds(detail);
    const rows = await a.db.reservation.findMany({ where: { concertDetailId: detail } });
    expect(rows.every((r) => r.status === "HELD")).toBe(true);
    for (const [i, r] of replies.entries()) {
      const mine = rows.filter((row) => row.userId === users[i]).map((row) => row.seatNo);
      if (r.status === 201) expect(mine.sort((x, y) => x - y)).toEqual([...sets[i]].sort((x, y) => x - y));
      else expect(mine).toEqual([]);
    }
    expect(rows).toHaveLength(holds.size); // no seat held twice
    const keys = await gateKeys(detail);
    expect(new Map([...keys].map(([seat, v]) => [seat, v]))).toEqual(new Map([...holds].map(([seat, id]) => [seat, `r:${id}`])));
    const [{ held }] = await a.db.$queryRaw<{ held: number }[]>`
      SELECT count(*)::int AS held FROM seat WHERE concert_detail_id = ${detail} AND status = 'HELD'`;
    expect(held).toBe(holds.size);
    console.log(`20 overlapping multi-seat holds at once: ${replies.filter((r) => r.status === 201).length} won, ${elapsed} ms`);
  });

  it("two users holding overlapping sets at once, 30 times: one wins whole, the other gets nothing", async () => {
    for (let round = 0; round < 30; round++) {
      const { detailIds } = await newConcert(a.db);
      const [x, y] = [nextId(), nextId()];
      const [rx, ry] = await Promise.all([holdMany(a, x, detailIds[0], [1, 2, 3]), holdMany(b, y, detailIds[0], [3, 2, 4])]);
      expect([rx.status, ry.status].sort()).toEqual([201, 409]);
      const winner = rx.status === 201 ? x : y;
      const rows = await a.db.reservation.findMany({ where: { concertDetailId: detailIds[0] } });
      expect(rows.every((r) => r.userId === winner)).toBe(true);
      expect(rows).toHaveLength(3);
    }
  });
});

describe("releasing a hold", () => {
  it("frees the seat at once (Postgres, gate key, free list), answers the reservation EXPIRED, and another user can hold it", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
    const detail = detailIds[0];
    const me = nextId();
    const held = await holdMany(a, me, detail, [14, 15]);
    const [first, second] = held.body.result.reservations;
    const r = await release(b, me, first.reservationId);
    expect(r.status).toBe(200);
    expect(r.body.result).toMatchObject({ reservationId: first.reservationId, seatId: 14, price: PRICE, status: "EXPIRED" });
    expect(Date.parse(r.body.result.expiresAt)).toBeLessThanOrEqual(Date.now());
    expect(await freeSeats(a, detail)).toContain(14);
    expect(await freeSeats(a, detail)).not.toContain(15);
    expect(await a.redis.exists(seatKey(detail, 14))).toBe(0);
    expect(await a.redis.get(seatKey(detail, 15))).toBe(`r:${second.reservationId}`);
    expect(await a.db.seat.findUnique({ where: { concertDetailId_seatNo: { concertDetailId: detail, seatNo: 14 } } })).toMatchObject({
      status: "FREE",
      reservationId: null,
    });
    const someoneElse = nextId();
    expect((await holdMany(b, someoneElse, detail, [14])).status).toBe(201);
  });

  it("refuses with a clear 4xx and changes nothing: again (409 NOT_HELD), paid (409 ALREADY_PAID), another's (403 NOT_OWNER), unknown (404), bad id (400)", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
    const detail = detailIds[0];
    const me = nextId();
    const other = nextId();
    const [gone, paid, kept] = (await holdMany(a, me, detail, [1, 2, 3])).body.result.reservations;
    expect((await release(a, me, gone.reservationId)).status).toBe(200);
    await charge(a, me, PRICE);
    expect((await pay(a, me, paid.reservationId)).status).toBe(200);
    const scope = { userIds: [me, other], detailIds };
    const before = await snapshot(a.db, scope);
    const keysBefore = await gateKeys(detail);

    const again = await release(a, me, gone.reservationId);
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "NOT_HELD", details: { reservationId: gone.reservationId, status: "EXPIRED" } });
    const ofPaid = await release(a, me, paid.reservationId);
    expect(ofPaid.status).toBe(409);
    expect(ofPaid.body.error).toMatchObject({ code: "ALREADY_PAID", details: { status: "CONFIRMED" } });
    const notMine = await release(a, other, kept.reservationId);
    expect(notMine.status).toBe(403);
    expect(notMine.body.error?.code).toBe("NOT_OWNER");
    const unknown = await release(a, me, 2_000_000_000);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe("NOT_FOUND");
    const bad = await call(a.url, "DELETE", "/api/reservations/01", { auth: passport({ userId: me }) });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("VALIDATION_FAILED");

    expect(await snapshot(a.db, scope)).toEqual(before);
    expect(await gateKeys(detail)).toEqual(keysBefore);
  });

  it("refuses a hold that ran out (not yet swept) with 409 NOT_HELD, status EXPIRED, and changes nothing", async () => {
    const short = await startBooking({ seatHoldTtlSec: 1, db: a.db, redis: a.redis });
    try {
      const { detailIds } = await newConcert(a.db);
      const me = nextId();
      const { reservationId } = (await holdMany(short, me, detailIds[0], [30])).body.result.reservations[0];
      clock.advance(1_100); // the test clock (the DbClock): the hold has expired
      const before = await snapshot(a.db, { userIds: [me], detailIds });
      const r = await release(short, me, reservationId);
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({ code: "NOT_HELD", details: { reservationId, status: "EXPIRED" } });
      expect(await snapshot(a.db, { userIds: [me], detailIds })).toEqual(before);
    } finally {
      await short.close();
    }
  });

  it("when release races a payment of the same hold, 40 times: exactly one wins and the rows agree", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
    const detail = detailIds[0];
    const tally = { released: 0, paid: 0 };
    for (let seat = 1; seat <= 40; seat++) {
      const me = nextId();
      await charge(a, me, PRICE);
      const { reservationId } = (await holdMany(a, me, detail, [seat])).body.result.reservations[0];
      const [rel, payment] = await Promise.all([release(seat % 2 ? a : b, me, reservationId), pay(seat % 2 ? b : a, me, reservationId)]);
      const row = await a.db.reservation.findUniqueOrThrow({ where: { id: reservationId }, include: { seat: true } });
      const user = await a.db.user.findUniqueOrThrow({ where: { id: me } });
      if (rel.status === 200) {
        tally.released++;
        expect(payment.status).toBe(409);
        expect(payment.body.error?.code).toBe("HOLD_EXPIRED");
        expect(row.status).toBe("EXPIRED");
        expect(row.seat).toMatchObject({ status: "FREE", reservationId: null });
        expect(Number(user.point)).toBe(PRICE);
        expect(await a.redis.exists(seatKey(detail, seat))).toBe(0);
      } else {
        tally.paid++;
        expect(payment.status).toBe(200);
        expect(rel.status).toBe(409);
        expect(rel.body.error?.code).toBe("ALREADY_PAID");
        expect(row.status).toBe("CONFIRMED");
        expect(row.seat).toMatchObject({ status: "SOLD", reservationId });
        expect(Number(user.point)).toBe(0);
      }
    }
    expect(tally.released + tally.paid).toBe(40);
    console.log(`release racing payment, 40 rounds: ${tally.released} released, ${tally.paid} paid`);
  });
});
