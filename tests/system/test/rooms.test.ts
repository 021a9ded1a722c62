import { randomBytes } from "node:crypto";
import { call, sleep, type Reply } from "./support/client";
import { report, startSystem, type System } from "./support/harness";
import { operator } from "./support/operator";
import { timeUntil } from "./support/scenario";

// Issue 14, rooms: concerts made by operators, each with a waiting room of its own (its own keys,
// settings stored with the concert, changed live), tokens bound to their room, one admission loop
// per gateway serving every room exactly once per tick. 1 booking, 2 gateways, real processes.
describe("system: rooms per concert", () => {
  const adminToken = randomBytes(16).toString("hex");
  let sys: System;
  const gw = (i = 0) => sys.gateways[i % sys.gateways.length].url;
  const { admin, createConcert: create } = operator(() => sys, adminToken);
  const inFuture = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
  const roomKey = (concertId: number, key: string) => `{q:${sys.queueName}:c${concertId}}:${key}`;

  const createConcert = (room?: Record<string, unknown>, dates = 1) =>
    create({ name: `Room ${randomBytes(2).toString("hex")}`, room, dates });
  const issue = (userId: number, concertId?: number, i = 0, token?: string): Promise<Reply> =>
    call(gw(i), "POST", "/api/users/token", { body: concertId === undefined ? { userId } : { userId, concertId }, token });
  const poll = (userId: number, token: string, i = 0) => call(gw(i), "GET", `/api/users/${userId}/token`, { token });
  const admitted = async (userId: number, token: string) => {
    await timeUntil(async () => (await poll(userId, token)).body.result?.status === "IN_PROGRESS", 15_000);
  };

  beforeAll(async () => {
    sys = await startSystem({ tag: "rooms", bookings: 1, gateways: 2, gatewayEnv: { ADMIN_TOKEN: adminToken, QUEUE_TICK_MS: "200" } });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("operators make a concert with its dates and seats, and refuse bad bodies and missing tokens without changing anything", async () => {
    const before = await sys.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM concert");
    const bad = [
      { name: "", seatPrice: 1, dates: [inFuture(1)] },
      { name: "x", seatPrice: -1, dates: [inFuture(1)] },
      { name: "x", seatPrice: 1, dates: [] },
      { name: "x", seatPrice: 1, dates: ["tomorrow"] },
      { name: "x", seatPrice: 1, dates: [new Date(Date.now() - 60_000).toISOString()] },
      { name: "x", seatPrice: 1, dates: [inFuture(1)], room: { batch: 0 } },
      { name: "x", seatPrice: 1, dates: [inFuture(1)], room: { bogus: 1 } },
    ];
    for (const body of bad) {
      const r = await admin("POST", "/admin/concerts", body);
      expect([r.status, r.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    }
    const anonymous = await call(gw(), "POST", "/admin/concerts", { body: { name: "x", seatPrice: 1, dates: [inFuture(1)] } });
    expect(anonymous.status).toBe(401);
    expect((await sys.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM concert")).rows[0].n).toBe(before.rows[0].n);

    const { concertId, concertDetailIds } = await createConcert({ batch: 7, maxActive: 100 }, 2);
    expect(concertDetailIds).toHaveLength(2);
    const seats = await sys.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM seat s JOIN concert_detail d ON d.id = s.concert_detail_id WHERE d.concert_id = $1 AND s.status = 'FREE'",
      [concertId],
    );
    expect(seats.rows[0].n).toBe(100);
    const stored = await sys.db.pool.query("SELECT has_room, room_batch, room_max_active, room_tick_ms FROM concert WHERE id = $1", [
      concertId,
    ]);
    expect(stored.rows[0]).toEqual({ has_room: true, room_batch: 7, room_max_active: 100, room_tick_ms: null });
    // every gateway sees the room and its settings (its own, else the configured ones)
    for (const i of [0, 1]) {
      const r = await admin("GET", `/admin/rooms/${concertId}`, undefined, i);
      expect(r.status).toBe(200);
      expect(r.body.result).toMatchObject({
        concertId,
        settings: { batch: 7, maxActive: 100, tickMs: 200 },
        waiting: 0,
        active: 0,
        paused: false,
      });
    }
    expect((await admin("GET", "/admin/rooms")).body.result.rooms.map((r: { concertId: number }) => r.concertId)).toContain(concertId);
    expect((await admin("GET", "/admin/rooms/999999")).status).toBe(404);
  });

  it("a room's token carries its concertId, keeps one place per user per room, and is apart from the general room", async () => {
    const { concertId } = await createConcert({ batch: 1 });
    expect((await admin("POST", `/admin/rooms/${concertId}/pause`)).status).toBe(200);
    const [u] = sys.userIds(1);
    const mine = await issue(u, concertId);
    expect(mine.status).toBe(200);
    expect(mine.body.result).toMatchObject({ status: "WAITING", rank: 1, concertId });
    // asking again with the token: the same place, through either gateway; without it: 409
    expect((await issue(u, concertId, 1, mine.body.result.token)).body.result).toMatchObject({ token: mine.body.result.token, rank: 1 });
    expect((await issue(u, concertId, 1)).body.error.code).toBe("ALREADY_QUEUED");
    // the same user in the general room has a place of its own there
    const general = await issue(u);
    expect(general.body.result).toMatchObject({ concertId: null });
    expect(general.body.result.token).not.toBe(mine.body.result.token);
    // the room's keys are its own hash tag
    expect(await sys.redis.hget(roomKey(concertId, "users"), String(u))).toBe(mine.body.result.token);
    expect((await poll(u, mine.body.result.token, 1)).body.result).toMatchObject({ status: "WAITING", rank: 1, concertId });
    // an unknown concert is a 404, a concert without a room of its own is served by the general room
    expect((await issue(sys.userIds(1)[0], 999_999)).status).toBe(404);
    const plain = await sys.concert(1);
    await timeUntil(async () => (await issue(sys.userIds(1)[0], plain.concertId)).status === 200, 15_000);
    const viaGeneral = await issue(sys.userIds(1)[0], plain.concertId);
    expect(viaGeneral.body.result).toMatchObject({ concertId: null, status: expect.stringMatching(/WAITING|IN_PROGRESS/) });
  }, 30_000);

  it("two gateways admit a room's batch once per tick in total, and an operator pauses, resumes and changes it live", async () => {
    const { concertId } = await createConcert({ batch: 5, tickMs: 1000 });
    expect((await admin("POST", `/admin/rooms/${concertId}/pause`)).body.result.paused).toBe(true);
    const users = sys.userIds(40);
    const issued = await Promise.all(users.map((u, i) => issue(u, concertId, i)));
    expect(issued.map((r) => r.status)).toEqual(users.map(() => 200));
    expect(new Set(issued.map((r) => r.body.result.rank)).size).toBe(40);
    await sleep(1500);
    expect(await sys.redis.zcard(roomKey(concertId, "active"))).toBe(0); // paused: everyone keeps their place
    const resumed = Date.now();
    expect((await admin("POST", `/admin/rooms/${concertId}/resume`, undefined, 1)).body.result.paused).toBe(false);
    await sleep(3200);
    const admittedNow = await sys.redis.zcard(roomKey(concertId, "active"));
    const ticks = Math.ceil((Date.now() - resumed) / 1000) + 1;
    // exactly the batch per tick slot that ran (both gateways run the loop; the slot runs once)
    const admits = await sys.redis.zrange(roomKey(concertId, "admits"), 0, -1);
    expect(admits.every((m) => m.endsWith(":5"))).toBe(true);
    expect(admittedNow).toBe(admits.length * 5);
    expect(admittedNow).toBeGreaterThanOrEqual(10);
    expect(admittedNow).toBeLessThanOrEqual(ticks * 5);

    // a live change of the batch, stored with the concert
    const patched = await admin("PATCH", `/admin/rooms/${concertId}`, { batch: 20 });
    expect(patched.status).toBe(200);
    expect(patched.body.result.settings.batch).toBe(20);
    expect((await sys.db.pool.query("SELECT room_batch FROM concert WHERE id = $1", [concertId])).rows[0].room_batch).toBe(20);
    await timeUntil(async () => (await sys.redis.zcard(roomKey(concertId, "active"))) === 40, 10_000);
    const bigger = (await sys.redis.zrange(roomKey(concertId, "admits"), 0, -1)).filter((m) => !m.endsWith(":5"));
    expect(bigger.length).toBeGreaterThan(0);
    expect((await admin("PATCH", `/admin/rooms/${concertId}`, { batch: 0 })).status).toBe(400);
    expect((await admin("PATCH", `/admin/rooms/999999`, { batch: 3 })).status).toBe(404);
  }, 40_000);

  it("a token works only for its own room's concert: 403 TOKEN_WRONG_CONCERT both ways, on dates, seats, holds and payments", async () => {
    const room = await createConcert({ batch: 100 });
    const plain = await sys.concert(1); // the seed's way: no room of its own, served by the general room
    const [u, g] = sys.userIds(2);
    const roomToken = (await issue(u, room.concertId)).body.result.token as string;
    const generalToken = (await issue(g)).body.result.token as string;
    await admitted(u, roomToken);
    await admitted(g, generalToken);

    const refused = (r: Reply) => [r.status, r.body?.error?.code];
    const wrong = [403, "TOKEN_WRONG_CONCERT"];
    // the room's token elsewhere
    expect(refused(await call(gw(), "GET", `/api/concert/${plain.concertId}/date`, { token: roomToken }))).toEqual(wrong);
    expect(refused(await call(gw(1), "GET", `/api/concert/${plain.detailIds[0]}/seat`, { token: roomToken }))).toEqual(wrong);
    const foreignHold = await call(gw(), "POST", "/api/reservations", {
      token: roomToken,
      body: { userId: u, concertDetailId: plain.detailIds[0], seatId: 1 },
    });
    expect(refused(foreignHold)).toEqual(wrong);
    // a general token on a concert with a room of its own
    expect(refused(await call(gw(), "GET", `/api/concert/${room.concertId}/date`, { token: generalToken }))).toEqual(wrong);
    expect(refused(await call(gw(1), "GET", `/api/concert/${room.concertDetailIds[0]}/seat`, { token: generalToken }))).toEqual(wrong);
    const sneaky = await call(gw(), "POST", "/api/reservations", {
      token: generalToken,
      body: { userId: g, concertDetailId: room.concertDetailIds[0], seatId: 2 },
    });
    expect(refused(sneaky)).toEqual(wrong);
    // nothing was held by the refused requests
    const held = await sys.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM reservation WHERE user_id = ANY($1)", [[u, g]]);
    expect(held.rows[0].n).toBe(0);

    // each token in its own room: dates, hold, pay
    expect((await call(gw(), "GET", `/api/concert/${room.concertId}/date`, { token: roomToken })).status).toBe(200);
    expect((await call(gw(), "GET", `/api/concert/${plain.concertId}/date`, { token: generalToken })).status).toBe(200);
    const hold = await call(gw(1), "POST", "/api/reservations", {
      token: roomToken,
      body: { userId: u, concertDetailId: room.concertDetailIds[0], seatId: 3 },
    });
    expect(hold.status).toBe(201);
    const generalHold = await call(gw(), "POST", "/api/reservations", {
      token: generalToken,
      body: { userId: g, concertDetailId: plain.detailIds[0], seatId: 3 },
    });
    expect(generalHold.status).toBe(201);
    // paying a reservation of the other room is refused too (the gateway asks booking whose concert it is)
    const crossPay = await call(gw(), "POST", "/api/payment", {
      token: generalToken,
      body: { userId: g, reservationId: hold.body.result.reservationId },
    });
    expect(refused(crossPay)).toEqual(wrong);
    await call(gw(), "PATCH", "/api/users/point", { body: { userId: u, point: 1000 } });
    const paid = await call(gw(), "POST", "/api/payment", {
      token: roomToken,
      body: { userId: u, reservationId: hold.body.result.reservationId },
    });
    expect(paid.status).toBe(200);
    expect((await poll(u, roomToken, 1)).body.result).toMatchObject({ status: "FINISHED", reason: "PAID", concertId: room.concertId });
    const sold = await sys.db.pool.query("SELECT status FROM seat WHERE concert_detail_id = $1 AND seat_no = 3", [
      room.concertDetailIds[0],
    ]);
    expect(sold.rows[0].status).toBe("SOLD");

    // giving a concert a room of its own (PATCH) binds it at once: the general token is refused from then on
    const patched = await admin("PATCH", `/admin/rooms/${plain.concertId}`, {});
    expect(patched.status).toBe(200);
    await timeUntil(
      async () => (await call(gw(1), "GET", `/api/concert/${plain.concertId}/date`, { token: generalToken })).status === 403,
      5_000,
    );
    const inv = await sys.invariants();
    report(`rooms: wrong-room tokens refused both ways; invariants: ${inv.violations.length} violations`);
    expect(inv.violations).toEqual([]);
  }, 60_000);
});
