import { Client } from "pg";
import {
  call,
  gateKey,
  newConcert,
  nextId,
  passport,
  reserveIdBlock,
  sleep,
  snapshot,
  startBooking,
  testDatabaseUrl,
  type Booking,
} from "./support/booking";

reserveIdBlock();

let a: Booking;
let b: Booking;
beforeAll(async () => {
  a = await startBooking();
  b = await startBooking({ db: undefined });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const PRICE = 50_000;

async function heldSeat(inst: Booking, userId: number, seatId = 1, concertDetailId?: number) {
  const detail = concertDetailId ?? (await newConcert(inst.db, { seatPrice: PRICE })).detailIds[0];
  const r = await call(inst.url, "POST", "/api/reservations", {
    auth: passport({ userId }),
    body: { concertDetailId: detail, userId, seatId },
  });
  expect(r.status).toBe(201);
  return { detail, reservationId: r.body.result.reservationId as number };
}

const charge = (inst: Booking, userId: number, point: number) => call(inst.url, "PATCH", "/api/users/point", { body: { userId, point } });

const pay = (inst: Booking, userId: number, body: Record<string, unknown>, key?: string, queueToken?: string) =>
  call(inst.url, "POST", "/api/payment", {
    auth: passport({ userId, queueToken }),
    body: { userId, ...body },
    headers: key ? { "idempotency-key": key } : {},
  });

async function paidState(inst: Booking, userId: number, reservationId: number) {
  const [user, payments, uses, reservation] = await Promise.all([
    inst.db.user.findUnique({ where: { id: userId } }),
    inst.db.payment.findMany({ where: { userId } }),
    inst.db.pointLedger.findMany({ where: { userId, type: "USE" } }),
    inst.db.reservation.findUnique({ where: { id: reservationId }, include: { seat: true } }),
  ]);
  return { balance: Number(user?.point ?? 0), payments, uses, reservation };
}

describe("payments", () => {
  it("pays a hold: debits the database price, writes payment and ledger, confirms the seat, finishes the queue token", async () => {
    const user = nextId();
    const { token } = await a.queueStore.issue(user);
    await a.queueStore.tick({ tickMs: 1, batch: 1000, maxActive: 100_000 });
    expect((await a.queueStore.poll(user, token)).status).toBe("IN_PROGRESS");

    const detail = (await newConcert(a.db, { seatPrice: PRICE })).detailIds[0];
    const hold = await call(a.url, "POST", "/api/reservations", {
      auth: passport({ userId: user, queueToken: token }),
      body: { concertDetailId: detail, userId: user, seatId: 9 },
    });
    expect(hold.status).toBe(201);
    // the token now stays active at least until the hold expires
    const activeUntil = Number(await a.redis.zscore(a.queueStore.keys.active, token));
    expect(activeUntil).toBeGreaterThanOrEqual(Date.parse(hold.body.result.expiresAt) - 1_000);
    // and outlives the seat's gate key (both counted on the Redis clock)
    expect(activeUntil).toBeGreaterThanOrEqual(await a.redis.pexpiretime(gateKey(a, detail, 9)));

    await charge(a, user, 80_000);
    const r = await pay(a, user, { reservationId: hold.body.result.reservationId, point: PRICE }, undefined, token);
    expect(r.status).toBe(200);
    expect(r.body.result).toEqual({
      paymentId: expect.any(Number),
      reservationIds: [hold.body.result.reservationId],
      amount: PRICE,
      balance: 30_000,
      status: "PAID",
    });
    const s = await paidState(a, user, hold.body.result.reservationId);
    expect(s.balance).toBe(30_000);
    expect(s.payments).toHaveLength(1);
    expect(s.uses.map((u) => [Number(u.amount), Number(u.balanceAfter), u.paymentId])).toEqual([[PRICE, 30_000, r.body.result.paymentId]]);
    expect(s.reservation).toMatchObject({ status: "CONFIRMED", paymentId: r.body.result.paymentId });
    expect(s.reservation?.seat).toMatchObject({ status: "SOLD", holdUntil: null });
    expect(await a.queueStore.poll(user, token)).toMatchObject({ status: "FINISHED", reason: "paid" });
    // the sold seat is never listed or held again
    expect((await call(a.url, "GET", `/api/concert/${detail}/seat`)).body.result).not.toContain(9);
    const other = nextId();
    const again = await call(a.url, "POST", "/api/reservations", {
      auth: passport({ userId: other }),
      body: { concertDetailId: detail, userId: other, seatId: 9 },
    });
    expect([again.status, again.body.error?.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
  });

  it("pays several holds of one user at once with reservationIds", async () => {
    const user = nextId();
    const first = await heldSeat(a, user, 1);
    const second = await heldSeat(a, user, 2, first.detail);
    await charge(a, user, 2 * PRICE);
    const r = await pay(b, user, { reservationIds: [second.reservationId, first.reservationId], point: 2 * PRICE });
    expect(r.status).toBe(200);
    expect(r.body.result).toMatchObject({ reservationIds: [first.reservationId, second.reservationId], amount: 2 * PRICE, balance: 0 });
    expect(await a.db.seat.count({ where: { concertDetailId: first.detail, status: "SOLD" } })).toBe(2);
  });

  it.each([
    ["with the same Idempotency-Key", true],
    ["without an Idempotency-Key", false],
  ])("when 20 payments of one reservation race %s, one payment is made and the balance is debited once", async (_n, withKey) => {
    const user = nextId();
    const { reservationId } = await heldSeat(a, user);
    await charge(a, user, 3 * PRICE);
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => pay(i % 2 ? a : b, user, { reservationId }, withKey ? `pay-${reservationId}` : undefined)),
    );
    const paid = replies.filter((r) => r.status === 200);
    if (withKey) {
      // every retry gets the first result
      expect(paid).toHaveLength(20);
      expect(new Set(paid.map((r) => JSON.stringify(r.body.result))).size).toBe(1);
    } else {
      expect(paid).toHaveLength(1);
      expect(replies.filter((r) => r.status === 409).map((r) => r.body.error?.code)).toEqual(Array(19).fill("ALREADY_PAID"));
    }
    const s = await paidState(a, user, reservationId);
    expect(s.payments).toHaveLength(1);
    expect(s.uses).toHaveLength(1);
    expect(s.balance).toBe(2 * PRICE);
    expect(s.reservation?.status).toBe("CONFIRMED");
  });

  it("a key reused for other reservations is 409 IDEMPOTENCY_CONFLICT and changes nothing", async () => {
    const user = nextId();
    const first = await heldSeat(a, user, 1);
    const second = await heldSeat(a, user, 2, first.detail);
    await charge(a, user, 2 * PRICE);
    expect((await pay(a, user, { reservationId: first.reservationId }, "k")).status).toBe(200);
    const before = await snapshot(a.db, { userIds: [user], detailIds: [first.detail] });
    const r = await pay(a, user, { reservationId: second.reservationId }, "k");
    expect([r.status, r.body.error?.code]).toEqual([409, "IDEMPOTENCY_CONFLICT"]);
    expect(await snapshot(a.db, { userIds: [user], detailIds: [first.detail] })).toEqual(before);
  });

  describe("refusals change nothing", () => {
    async function expectRefused(
      setup: (user: number) => Promise<{ body: Record<string, unknown>; payer?: number; detail?: number }>,
      status: number,
      code: string,
    ) {
      const user = nextId();
      const { body, payer = user, detail } = await setup(user);
      const scope = { userIds: [user, payer], detailIds: detail ? [detail] : [] };
      const before = await snapshot(a.db, scope);
      const r = await pay(a, payer, body);
      expect([r.status, r.body.error?.code, r.body.result]).toEqual([status, code, null]);
      expect(await snapshot(a.db, scope)).toEqual(before);
      return r;
    }

    it("a client point that differs from the price is 400 AMOUNT_MISMATCH, checked before the balance", async () => {
      const r = await expectRefused(
        async (user) => {
          const h = await heldSeat(a, user); // no points at all: the mismatch must win over the balance
          return { body: { reservationId: h.reservationId, point: 1 }, detail: h.detail };
        },
        400,
        "AMOUNT_MISMATCH",
      );
      expect(r.body.error?.details).toMatchObject({ expected: PRICE, given: 1 });
    });

    it("a balance short of the price is 409 INSUFFICIENT_POINTS", async () => {
      await expectRefused(
        async (user) => {
          const h = await heldSeat(a, user);
          await charge(a, user, PRICE - 1);
          return { body: { reservationId: h.reservationId, point: PRICE }, detail: h.detail };
        },
        409,
        "INSUFFICIENT_POINTS",
      );
    });

    it("paying someone else's hold is 403 NOT_OWNER", async () => {
      await expectRefused(
        async (user) => {
          const h = await heldSeat(a, user);
          const thief = nextId();
          await charge(a, thief, PRICE);
          return { body: { reservationId: h.reservationId }, payer: thief, detail: h.detail };
        },
        403,
        "NOT_OWNER",
      );
    });

    it("paying someone else's hold locks nothing of theirs: refused at once while their seat row is locked", async () => {
      const owner = nextId();
      const h = await heldSeat(a, owner);
      const thief = nextId();
      await charge(a, thief, PRICE);
      const other = new Client({ connectionString: testDatabaseUrl() });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("SELECT 1 FROM seat WHERE id = (SELECT seat_id FROM reservation WHERE id = $1) FOR UPDATE", [h.reservationId]);
        const started = Date.now();
        const r = await pay(a, thief, { reservationId: h.reservationId });
        expect([r.status, r.body.error?.code]).toEqual([403, "NOT_OWNER"]);
        expect(Date.now() - started).toBeLessThan(1_000); // it did not wait on the owner's seat (the lock is held until ROLLBACK)
      } finally {
        await other.query("ROLLBACK");
        await other.end();
      }
      expect(await paidState(a, owner, h.reservationId)).toMatchObject({ payments: [], reservation: { status: "HELD" } });
    });

    it("an unknown reservation is 404", async () => {
      await expectRefused(() => Promise.resolve({ body: { reservationId: 2_000_000_000 } }), 404, "NOT_FOUND");
    });

    it("an expired hold is 409 HOLD_EXPIRED even before any sweeper ran", async () => {
      await expectRefused(
        async (user) => {
          const h = await heldSeat(a, user);
          await charge(a, user, PRICE);
          await a.db.$executeRaw`UPDATE reservation SET expires_at = now() - interval '1 second' WHERE id = ${h.reservationId}`;
          await a.db.$executeRaw`UPDATE seat SET hold_until = now() - interval '1 second' WHERE reservation_id = ${h.reservationId}`;
          return { body: { reservationId: h.reservationId }, detail: h.detail };
        },
        409,
        "HOLD_EXPIRED",
      );
    });

    it.each([
      ["both reservationId and reservationIds", { reservationId: 1, reservationIds: [1] }],
      ["neither", {}],
      ["a reservationId as a string", { reservationId: "1" }],
      ["a negative point", { reservationId: 1, point: -1 }],
    ])("a body with %s is 400 VALIDATION_FAILED", async (_n, body) => {
      await expectRefused(async () => ({ body }), 400, "VALIDATION_FAILED");
    });
  });

  it("when payments race the hold's expiry, every seat is either paid and debited or neither, never one without the other", async () => {
    const short = await startBooking({ seatHoldTtlSec: 1, db: a.db, redis: a.redis });
    try {
      const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
      const detail = detailIds[0];
      const users = Array.from({ length: 20 }, () => nextId());
      const rivals = Array.from({ length: 20 }, () => nextId());
      await Promise.all(users.map((u) => charge(a, u, PRICE)));
      const holds = (await Promise.all(users.map((u, i) => heldSeat(short, u, i + 1, detail)))).map((h) => h.reservationId);
      // pay around the expiry (holds end ~1000 ms from now), while rivals grab the same seats and sweepers run
      await sleep(850);
      const replies = await Promise.all([
        ...users.map((u, i) => sleep(i * 15).then(() => pay(i % 2 ? a : b, u, { reservationId: holds[i] }))),
        ...rivals.map((u, i) =>
          sleep(100 + i * 10).then(() =>
            call(short.url, "POST", "/api/reservations", {
              auth: passport({ userId: u }),
              body: { concertDetailId: detail, userId: u, seatId: i + 1 },
            }),
          ),
        ),
        sleep(170).then(() => Promise.all([a.app.sweep(), b.app.sweep()])),
      ]);
      const payReplies = replies.slice(0, users.length) as Awaited<ReturnType<typeof pay>>[];
      for (const r of payReplies) expect([200, 409]).toContain(r.status);
      expect(payReplies.filter((r) => r.status === 409).every((r) => r.body.error?.code === "HOLD_EXPIRED")).toBe(true);

      for (let i = 0; i < users.length; i++) {
        const s = await paidState(a, users[i], holds[i]);
        const paid = payReplies[i].status === 200;
        const seat = await a.db.seat.findUnique({ where: { concertDetailId_seatNo: { concertDetailId: detail, seatNo: i + 1 } } });
        if (paid) {
          expect([s.balance, s.payments.length, s.uses.length, s.reservation?.status]).toEqual([0, 1, 1, "CONFIRMED"]);
          expect(seat).toMatchObject({ status: "SOLD", reservationId: holds[i] });
        } else {
          expect([s.balance, s.payments.length, s.uses.length]).toEqual([PRICE, 0, 0]);
          expect(s.reservation?.status).not.toBe("CONFIRMED");
          expect(seat?.status === "SOLD" && seat.reservationId === holds[i]).toBe(false);
        }
      }
      // a seat is sold at most once, and only with a payment
      const sold = await a.db.$queryRaw<{ seat_id: number; n: number }[]>`
        SELECT seat_id, count(*)::int AS n FROM reservation WHERE concert_detail_id = ${detail} AND status = 'CONFIRMED' GROUP BY seat_id`;
      expect(sold.every((r) => r.n === 1)).toBe(true);
      expect(await a.db.seat.count({ where: { concertDetailId: detail, status: "SOLD" } })).toBe(sold.length);
      expect(await a.db.reservation.count({ where: { concertDetailId: detail, status: "CONFIRMED", paymentId: null } })).toBe(0);
      const outcome = payReplies.map((r) => r.status);
      console.log(
        `payments racing expiry: ${outcome.filter((s) => s === 200).length} paid, ${outcome.filter((s) => s === 409).length} refused`,
      );
    } finally {
      await short.close();
    }
  });
});
