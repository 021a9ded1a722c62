import { ReservationsRepository } from "../src/db/reservations.repository";
import { dbClock } from "../src/db/seat-sql";
import type { Db } from "../src/db/client";
import {
  call,
  gateKey,
  clock,
  newConcert,
  nextId,
  passport,
  reserveIdBlock,
  snapshot,
  sleep,
  startBooking,
  type Booking,
} from "./support/booking";

reserveIdBlock();

let a: Booking;
beforeAll(async () => {
  a = await startBooking();
});
afterAll(async () => {
  await a?.close();
});

const hold = (userId: number, concertDetailId: number, seatId: number, options: { deadline?: number; key?: string } = {}) =>
  call(a.url, "POST", "/api/reservations", {
    auth: passport({ userId, deadline: options.deadline }),
    body: { concertDetailId, userId, seatId },
    headers: options.key === undefined ? {} : { "idempotency-key": options.key },
  });

/** Holds a row lock on one seat in a transaction of its own until `release()`, as a slow writer would. */
async function lockSeat(db: Db, concertDetailId: number, seatNo: number): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const tx = db.$transaction(
    async (t) => {
      await t.$queryRaw`SELECT id FROM seat WHERE concert_detail_id = ${concertDetailId} AND seat_no = ${seatNo} FOR UPDATE`;
      locked();
      await released;
    },
    { timeout: 30_000, maxWait: 5_000 },
  );
  await isLocked;
  return {
    release: async () => {
      release();
      await tx;
    },
  };
}

const liveHolds = async (userId: number) =>
  (
    await a.db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM reservation WHERE user_id = ${userId} AND status = 'HELD' AND expires_at > now()`
  )[0].n;

describe("the per-user hold limit is the database's", () => {
  it("when a 4th hold waits on a seat lock while a 5th hold commits (the Redlock lease long gone), the user still has at most 4", async () => {
    const { detailIds } = await newConcert(a.db);
    const detail = detailIds[0];
    const user = nextId();
    for (const seat of [1, 2, 3]) expect((await hold(user, detail, seat)).status).toBe(201);
    // the repository directly: no Redlock around either hold, as when the lease ran out
    const repo = new ReservationsRepository(a.db, dbClock(clock.now));
    const input = (seatNo: number) => ({
      userId: user,
      concertDetailId: detail,
      seatNos: [seatNo],
      ttlMs: 300_000,
      maxHolds: 4,
      deadline: Date.now() + 20_000,
    });

    const lock = await lockSeat(a.db, detail, 10);
    const fourth = repo.holdSeats(input(10));
    await sleep(300); // the 4th is waiting on seat 10's row
    const fifth = await repo.holdSeats(input(11));
    expect(fifth).not.toBeNull();
    await lock.release();

    expect(await fourth).toBeNull();
    expect(await liveHolds(user)).toBe(4);
    const seat10 = await a.db.seat.findUnique({ where: { concertDetailId_seatNo: { concertDetailId: detail, seatNo: 10 } } });
    expect(seat10).toMatchObject({ status: "FREE", reservationId: null });
  });

  it("when 8 holds of one user on 8 seats race, exactly 4 commit", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const repo = new ReservationsRepository(a.db, dbClock(clock.now));
    const results = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((seatNo) =>
        repo.holdSeats({
          userId: user,
          concertDetailId: detailIds[0],
          seatNos: [seatNo],
          ttlMs: 300_000,
          maxHolds: 4,
          deadline: Date.now() + 20_000,
        }),
      ),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(4);
    expect(await liveHolds(user)).toBe(4);
    const [{ held }] = await a.db.$queryRaw<{ held: number }[]>`
      SELECT count(*)::int AS held FROM seat WHERE concert_detail_id = ${detailIds[0]} AND status = 'HELD'`;
    expect(held).toBe(4);
  });
});

describe("a user's holds, payments and cancels at once", () => {
  const post = (userId: number, path: string, body: Record<string, unknown>) =>
    call(a.url, "POST", path, { auth: passport({ userId }), body });

  it("when a user 1 hold short of the limit holds 2 more seats at once while paying one hold and cancelling a paid one, 8 times: no deadlock, Postgres within the limit", async () => {
    for (let round = 0; round < 8; round++) {
      const { detailIds } = await newConcert(a.db, { seatPrice: 1_000 });
      const detail = detailIds[0];
      const user = nextId();
      expect((await call(a.url, "PATCH", "/api/users/point", { body: { userId: user, point: 10_000 } })).status).toBe(200);
      const ids: number[] = [];
      for (const seat of [1, 2, 3, 4]) {
        const r = await hold(user, detail, seat);
        expect(r.status).toBe(201);
        ids.push(r.body.result.reservationId);
      }
      expect((await post(user, "/api/payment", { userId: user, reservationId: ids[3], point: 1_000 })).status).toBe(200);
      // 3 live holds of 4: seat lock(s) → user lock in each of these, and reservation rows in between for some
      const replies = await Promise.all([
        hold(user, detail, 5),
        hold(user, detail, 6),
        post(user, "/api/payment", { userId: user, reservationId: ids[0], point: 1_000 }),
        post(user, `/api/reservations/${ids[3]}/cancel`, { userId: user }),
      ]);
      const [h5, h6, paid, cancelled] = replies.map((r) => [r.status, r.body.error?.code]);
      expect([paid, cancelled]).toEqual([
        [200, undefined],
        [200, undefined],
      ]);
      for (const h of [h5, h6]) expect([201, 409]).toContain(h[0]);
      const won = [h5, h6].filter((h) => h[0] === 201).length;
      expect(won).toBeGreaterThanOrEqual(1); // the payment ran first: both; else one of them
      const held = await a.db.$queryRaw<{ seat_no: number }[]>`
        SELECT s.seat_no FROM seat s JOIN reservation r ON r.id = s.reservation_id
         WHERE s.concert_detail_id = ${detail} AND s.status = 'HELD' AND r.status = 'HELD' AND r.user_id = ${user}
         ORDER BY s.seat_no`;
      expect(held).toHaveLength(await liveHolds(user));
      expect(await liveHolds(user)).toBe(2 + won);
      expect(await liveHolds(user)).toBeLessThanOrEqual(4);
    }
  });
});

describe("a hold never commits after its caller's deadline", () => {
  it("when the seat is locked past the deadline: 503 with Retry-After, and nothing commits once the lock goes", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const scope = { userIds: [user], detailIds };
    const before = await snapshot(a.db, scope);
    const lock = await lockSeat(a.db, detailIds[0], 5);
    const started = Date.now();
    const r = await hold(user, detailIds[0], 5, { deadline: Date.now() + 1_000 });
    const took = Date.now() - started;
    await lock.release();
    expect(r.status).toBe(503);
    expect(r.body.error?.code).toBe("SERVICE_UNAVAILABLE");
    expect(r.headers.get("retry-after")).toBe("1");
    expect(took).toBeLessThan(1_000);
    await sleep(200);
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect(await a.redis.exists(gateKey(a, detailIds[0], 5))).toBe(0);
    // the seat is free for the retry
    expect((await hold(user, detailIds[0], 5)).status).toBe(201);
  });

  it("when the deadline has already passed: 503 with Retry-After before anything is touched", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const scope = { userIds: [user], detailIds };
    const before = await snapshot(a.db, scope);
    const r = await hold(user, detailIds[0], 6, { deadline: Date.now() - 1 });
    expect(r.status).toBe(503);
    expect(r.headers.get("retry-after")).toBe("1");
    expect(await snapshot(a.db, scope)).toEqual(before);
    expect(await a.redis.exists(gateKey(a, detailIds[0], 6))).toBe(0);
  });

  it("a payment past its deadline is 503 and changes nothing", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: 0 });
    const user = nextId();
    const held = await hold(user, detailIds[0], 7);
    expect(held.status).toBe(201);
    const scope = { userIds: [user], detailIds };
    const before = await snapshot(a.db, scope);
    const paid = await call(a.url, "POST", "/api/payment", {
      auth: passport({ userId: user, deadline: Date.now() - 1 }),
      body: { userId: user, reservationId: held.body.result.reservationId },
    });
    expect(paid.status).toBe(503);
    expect(await snapshot(a.db, scope)).toEqual(before);
  });
});

describe("POST /api/reservations with an Idempotency-Key", () => {
  it("a retry with the same key and body returns the hold that was made, once", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const first = await hold(user, detailIds[0], 9, { key: "hold-9" });
    expect(first.status).toBe(201);
    const again = await hold(user, detailIds[0], 9, { key: "hold-9" });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    const rows = await a.db.reservation.findMany({ where: { userId: user } });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ idempotencyKey: "hold-9", seatNo: 9 });
  });

  it("the same key for another seat is 409 IDEMPOTENCY_CONFLICT and holds nothing", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    expect((await hold(user, detailIds[0], 9, { key: "k" })).status).toBe(201);
    const scope = { userIds: [user], detailIds };
    const before = await snapshot(a.db, scope);
    const other = await hold(user, detailIds[0], 10, { key: "k" });
    expect(other.status).toBe(409);
    expect(other.body.error?.code).toBe("IDEMPOTENCY_CONFLICT");
    expect(await snapshot(a.db, scope)).toEqual(before);
  });

  it("the same key of two users is two holds; a malformed key is 400", async () => {
    const { detailIds } = await newConcert(a.db);
    expect((await hold(nextId(), detailIds[0], 1, { key: "same" })).status).toBe(201);
    expect((await hold(nextId(), detailIds[0], 2, { key: "same" })).status).toBe(201);
    const bad = await hold(nextId(), detailIds[0], 3, { key: "no spaces" });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.details?.field).toBe("Idempotency-Key");
  });

  it("when 5 requests with one key race, at most one hold is made", async () => {
    const { detailIds } = await newConcert(a.db);
    const user = nextId();
    const replies = await Promise.all(Array.from({ length: 5 }, () => hold(user, detailIds[0], 4, { key: "race" })));
    const made = new Set(replies.filter((r) => r.status === 201).map((r) => r.body.result.reservationId));
    expect(made.size).toBe(1);
    expect(await a.db.reservation.count({ where: { userId: user } })).toBe(1);
  });
});
