import { randomBytes } from "node:crypto";
import { call } from "./support/client";
import { pool } from "./support/flows";
import { report, startSystem, type System } from "./support/harness";
import { operator } from "./support/operator";
import { timeUntil } from "./support/scenario";

// Issue 14, sold out: booking keeps each room's inventory in Redis on every hold, payment (and
// release, expiry, cancel); the room admits at most admitPerFreeSeat x free seats, tells the waiting
// when nothing is free but seats are held, and ends the line SOLD_OUT once everything is sold.
describe("system: a concert room sells out", () => {
  const adminToken = randomBytes(16).toString("hex");
  let sys: System;
  const gw = (i = 0) => sys.gateways[i % sys.gateways.length].url;
  const { admin, createConcert } = operator(() => sys, adminToken);

  beforeAll(async () => {
    sys = await startSystem({
      tag: "soldout",
      bookings: 1,
      gateways: 2,
      gatewayEnv: { ADMIN_TOKEN: adminToken, QUEUE_TICK_MS: "200" },
      bookingEnv: { MAX_HOLDS_PER_USER: "10" },
    });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("admits 0.2 x 50 free seats, shows the held seats while none is free, and turns the waiting to SOLD_OUT when all 50 are sold", async () => {
    const { concertId, concertDetailIds } = await createConcert({ name: "Small hall", room: { batch: 100, admitPerFreeSeat: 0.2 } });
    const detail = concertDetailIds[0];
    const users = sys.userIds(30);
    const tokens = new Map<number, string>();
    await pool(users, 10, async (u, i) => {
      const r = await call(gw(i), "POST", "/api/users/token", { body: { userId: u, concertId } });
      expect(r.status).toBe(200);
      tokens.set(u, r.body.result.token);
    });
    const activeKey = `{q:${sys.queueName}:c${concertId}}:active`;
    await timeUntil(async () => (await sys.redis.zcard(activeKey)) === 10, 10_000);
    await new Promise((r) => setTimeout(r, 1000)); // more ticks: still 10 (0.2 x 50 free)
    expect(await sys.redis.zcard(activeKey)).toBe(10);
    const view = (await admin("GET", `/admin/rooms/${concertId}`)).body.result;
    expect(view.seats).toEqual({ free: 50, held: 0, sold: 0 });

    // five admitted users hold all 50 seats: nothing free, 50 held
    const admitted: number[] = [];
    for (const u of users) {
      const p = await call(gw(), "GET", `/api/users/${u}/token`, { token: tokens.get(u) });
      if (p.body.result.status === "IN_PROGRESS") admitted.push(u);
    }
    expect(admitted.length).toBe(10);
    const buyers = admitted.slice(0, 5);
    const holds = await Promise.all(
      buyers.map((u, i) =>
        call(gw(i), "POST", "/api/reservations", {
          token: tokens.get(u),
          body: { userId: u, concertDetailId: detail, seatIds: Array.from({ length: 10 }, (_, k) => i * 10 + k + 1) },
        }),
      ),
    );
    expect(holds.map((h) => h.status)).toEqual([201, 201, 201, 201, 201]);
    // concurrent holds share a recount, which trails the last of them by ROOM_INVENTORY_RECOUNT_MS at most
    const seatsOfRoom = async () => (await admin("GET", `/admin/rooms/${concertId}`)).body.result.seats;
    await timeUntil(async () => (await seatsOfRoom()).held === 50, 1_000);
    expect(await seatsOfRoom()).toEqual({ free: 0, held: 50, sold: 0 });
    const waiter = users.find((u) => !admitted.includes(u))!;
    const waiting = await call(gw(1), "GET", `/api/users/${waiter}/token`, { token: tokens.get(waiter) });
    expect(waiting.body.result).toMatchObject({ status: "WAITING", seatsHeld: 50, concertId });

    // all 50 paid: sold out
    await Promise.all(
      buyers.map(async (u, i) => {
        await call(gw(), "PATCH", "/api/users/point", { body: { userId: u, point: 10_000 } });
        const reservationIds = holds[i].body.result.reservations.map((r: { reservationId: number }) => r.reservationId);
        const paid = await call(gw(i), "POST", "/api/payment", { token: tokens.get(u), body: { userId: u, reservationIds } });
        expect(paid.status).toBe(200);
      }),
    );
    await timeUntil(async () => (await seatsOfRoom()).sold === 50, 1_000);
    expect(await seatsOfRoom()).toEqual({ free: 0, held: 0, sold: 50 });
    await timeUntil(
      async () => (await call(gw(), "GET", `/api/users/${waiter}/token`, { token: tokens.get(waiter) })).body.result.status === "FINISHED",
      5_000,
    );
    const waiters = users.filter((u) => !admitted.includes(u));
    const ends = await Promise.all(waiters.map((u, i) => call(gw(i), "GET", `/api/users/${u}/token`, { token: tokens.get(u) })));
    expect(ends.map((e) => e.body.result.reason)).toEqual(waiters.map(() => "SOLD_OUT"));
    const late = await call(gw(1), "POST", "/api/users/token", { body: { userId: sys.userIds(1)[0], concertId } });
    expect([late.status, late.body.error.code]).toEqual([409, "SOLD_OUT"]);
    const sold = await sys.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM seat WHERE concert_detail_id = $1 AND status = 'SOLD'",
      [detail],
    );
    expect(sold.rows[0].n).toBe(50);
    const inv = await sys.invariants();
    expect(inv.violations).toEqual([]);
    report(`sold out: 30 queued, 10 admitted (0.2 x 50 free), 50 held -> seatsHeld 50, 50 sold -> ${waiters.length} waiting SOLD_OUT`);
  }, 60_000);
});
