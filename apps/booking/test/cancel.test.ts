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
  b = await startBooking();
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});
afterEach(() => {
  clock.offsetMs = 0;
});

const PRICE = 40_000;

const hold = (inst: Booking, userId: number, concertDetailId: number, seatId: number) =>
  call(inst.url, "POST", "/api/reservations", { auth: passport({ userId }), body: { concertDetailId, userId, seatId } });

const pay = (inst: Booking, userId: number, reservationIds: number[]) =>
  call(inst.url, "POST", "/api/payment", { auth: passport({ userId }), body: { userId, reservationIds } });

const cancel = (inst: Booking, userId: number, reservationId: number, key?: string) =>
  call(inst.url, "POST", `/api/reservations/${reservationId}/cancel`, {
    auth: passport({ userId }),
    body: { userId },
    headers: key ? { "idempotency-key": key } : {},
  });

const tickets = (inst: Booking, userId: number, query = "") => call(inst.url, "GET", `/api/users/${userId}/reservations${query}`);

/** A user with `seats` paid seats of a fresh performance (balance left: `spare`). */
async function paidSeats(seats: number[], spare = 10_000) {
  const userId = nextId();
  const { detailIds } = await newConcert(a.db, { seatPrice: PRICE });
  const detail = detailIds[0];
  const ids: number[] = [];
  for (const seat of seats) {
    const r = await hold(a, userId, detail, seat);
    expect(r.status).toBe(201);
    ids.push(r.body.result.reservationId);
  }
  await call(a.url, "PATCH", "/api/users/point", { body: { userId, point: PRICE * seats.length + spare } });
  const paid = await pay(a, userId, ids);
  expect(paid.status).toBe(200);
  return { userId, detail, ids, paymentId: paid.body.result.paymentId as number };
}

async function refundRows(reservationIds: number[]) {
  return a.db.pointLedger.findMany({ where: { reservationId: { in: reservationIds } }, orderBy: { id: "asc" } });
}

async function balance(userId: number) {
  return Number((await a.db.user.findUniqueOrThrow({ where: { id: userId } })).point);
}

describe("cancel and refund", () => {
  it("cancels a paid seat: CANCELLED, the seat FREE (Postgres, Redis gate, seat list), its price back as one REFUND row", async () => {
    const { userId, detail, ids, paymentId } = await paidSeats([7]);
    expect(await a.redis.get(gateKey(a, detail, 7))).toBe(`r:${ids[0]}`);

    const r = await cancel(a, userId, ids[0]);
    expect(r.status).toBe(200);
    expect(r.body.result).toEqual({
      reservationId: ids[0],
      status: "CANCELLED",
      refund: { amount: PRICE, paymentId, ledgerId: expect.any(Number), refundedAt: expect.any(String) },
      balance: PRICE + 10_000,
    });
    const reservation = await a.db.reservation.findUniqueOrThrow({ where: { id: ids[0] }, include: { seat: true } });
    expect(reservation).toMatchObject({ status: "CANCELLED", paymentId });
    expect(reservation.cancelledAt).not.toBeNull();
    expect(reservation.seat).toMatchObject({ status: "FREE", reservationId: null, holdUntil: null });
    const refunds = await refundRows(ids);
    expect(refunds.map((l) => [l.type, Number(l.amount), Number(l.balanceAfter), l.paymentId, l.id])).toEqual([
      ["REFUND", PRICE, PRICE + 10_000, paymentId, r.body.result.refund.ledgerId],
    ]);
    expect(await balance(userId)).toBe(PRICE + 10_000);
    expect(await a.redis.exists(gateKey(a, detail, 7))).toBe(0);

    const seats = await call(a.url, "GET", `/api/concert/${detail}/seat`);
    expect(seats.body.result).toContain(7);
    expect((await hold(b, nextId(), detail, 7)).status).toBe(201);
  });

  it("cancelling one seat of a several-seat payment refunds that seat's price; both seats never refund beyond the payment", async () => {
    const { userId, ids, paymentId } = await paidSeats([3, 4], 0);
    const first = await cancel(a, userId, ids[0]);
    expect(first.body.result.refund.amount).toBe(PRICE);
    expect(first.body.result.balance).toBe(PRICE);
    expect((await a.db.reservation.findUniqueOrThrow({ where: { id: ids[1] } })).status).toBe("CONFIRMED");

    const second = await cancel(a, userId, ids[1]);
    expect(second.body.result.balance).toBe(2 * PRICE);
    const refunds = await refundRows(ids);
    expect(refunds.map((l) => [l.reservationId, l.paymentId, Number(l.amount)])).toEqual([
      [ids[0], paymentId, PRICE],
      [ids[1], paymentId, PRICE],
    ]);
    const payment = await a.db.payment.findUniqueOrThrow({ where: { id: paymentId } });
    expect(refunds.reduce((s, l) => s + Number(l.amount), 0)).toBe(Number(payment.amount));
  });

  it("a retry with the same Idempotency-Key gets the first answer; without it (or with another key) 409 ALREADY_CANCELLED", async () => {
    const { userId, ids } = await paidSeats([1]);
    const first = await cancel(a, userId, ids[0], "cancel-1");
    expect(first.status).toBe(200);
    const before = await snapshot(a.db, { userIds: [userId] });

    const again = await cancel(b, userId, ids[0], "cancel-1");
    expect(again.status).toBe(200);
    expect(again.body.result).toEqual(first.body.result);
    for (const key of [undefined, "cancel-2"]) {
      const r = await cancel(a, userId, ids[0], key);
      expect([r.status, r.body.error?.code]).toEqual([409, "ALREADY_CANCELLED"]);
    }
    expect(await snapshot(a.db, { userIds: [userId] })).toEqual(before);
  });

  it("the database itself refuses a second REFUND row for one reservation (point_ledger.reservation_id is unique)", async () => {
    const { userId, ids, paymentId } = await paidSeats([6]);
    expect((await cancel(a, userId, ids[0])).status).toBe(200);
    const again = a.db.pointLedger.create({
      data: { userId, type: "REFUND", amount: BigInt(PRICE), balanceAfter: BigInt(0), paymentId, reservationId: ids[0] },
    });
    await expect(again).rejects.toThrow();
    expect(await refundRows(ids)).toHaveLength(1);
  });

  describe("refusals change nothing", () => {
    async function expectRefused(userId: number, detail: number, send: () => ReturnType<typeof call>, status: number, code: string) {
      const before = await snapshot(a.db, { userIds: [userId], detailIds: [detail] });
      const r = await send();
      expect([r.status, r.body.error?.code]).toEqual([status, code]);
      expect(r.body.result).toBeNull();
      expect(await snapshot(a.db, { userIds: [userId], detailIds: [detail] })).toEqual(before);
      return r;
    }

    it("an unknown reservation is 404 NOT_FOUND", async () => {
      const { userId, detail } = await paidSeats([1]);
      await expectRefused(userId, detail, () => cancel(a, userId, 2_000_000_000), 404, "NOT_FOUND");
    });

    it("someone else's reservation is 403 NOT_OWNER", async () => {
      const { userId, detail, ids } = await paidSeats([1]);
      const other = nextId();
      await expectRefused(userId, detail, () => cancel(a, other, ids[0]), 403, "NOT_OWNER");
    });

    it("a passport for another user than the body's is 403 TOKEN_USER_MISMATCH", async () => {
      const { userId, detail, ids } = await paidSeats([1]);
      const path = `/api/reservations/${ids[0]}/cancel`;
      const send = () => call(a.url, "POST", path, { auth: passport({ userId: nextId() }), body: { userId } });
      await expectRefused(userId, detail, send, 403, "TOKEN_USER_MISMATCH");
    });

    it("a HELD (unpaid) reservation is 409 NOT_PAID, pointing to release; an expired one too", async () => {
      const userId = nextId();
      const detail = (await newConcert(a.db)).detailIds[0];
      const held = await hold(a, userId, detail, 5);
      const r = await expectRefused(userId, detail, () => cancel(a, userId, held.body.result.reservationId), 409, "NOT_PAID");
      expect(r.body.error?.message).toContain(`DELETE /api/reservations/${held.body.result.reservationId}`);
      clock.advance(301_000);
      await a.app.sweep();
      await expectRefused(userId, detail, () => cancel(a, userId, held.body.result.reservationId), 409, "NOT_PAID");
    });

    it("an Idempotency-Key already used to cancel another reservation is 409 IDEMPOTENCY_CONFLICT", async () => {
      const { userId, detail, ids } = await paidSeats([1, 2]);
      expect((await cancel(a, userId, ids[0], "k-used")).status).toBe(200);
      await expectRefused(userId, detail, () => cancel(a, userId, ids[1], "k-used"), 409, "IDEMPOTENCY_CONFLICT");
    });

    it("bad input is 400 VALIDATION_FAILED naming the field", async () => {
      const { userId, detail, ids } = await paidSeats([1]);
      const path = `/api/reservations/${ids[0]}/cancel`;
      await expectRefused(
        userId,
        detail,
        () => call(a.url, "POST", "/api/reservations/0/cancel", { body: { userId } }),
        400,
        "VALIDATION_FAILED",
      );
      await expectRefused(
        userId,
        detail,
        () => call(a.url, "POST", path, { auth: passport({ userId }), body: {} }),
        400,
        "VALIDATION_FAILED",
      );
      await expectRefused(userId, detail, () => call(a.url, "POST", path, { body: { userId, extra: 1 } }), 400, "VALIDATION_FAILED");
      await expectRefused(userId, detail, () => cancel(a, userId, ids[0], "bad key"), 400, "VALIDATION_FAILED");
    });
  });

  describe("CANCEL_DEADLINE_SEC before the performance (injected clock)", () => {
    async function startsAt(detail: number) {
      return (await a.db.concertDetail.findUniqueOrThrow({ where: { id: detail } })).startsAt.getTime();
    }

    it("one second past the deadline is 409 CANCEL_DEADLINE_PASSED and changes nothing", async () => {
      const { userId, detail, ids } = await paidSeats([1]);
      clock.offsetMs = (await startsAt(detail)) - a.config.cancelDeadlineSec * 1000 + 1_000 - Date.now();
      const before = await snapshot(a.db, { userIds: [userId], detailIds: [detail] });
      const r = await cancel(a, userId, ids[0]);
      expect([r.status, r.body.error?.code]).toEqual([409, "CANCEL_DEADLINE_PASSED"]);
      expect(r.body.error?.details?.cancelDeadline).toBe(new Date((await startsAt(detail)) - 86_400_000).toISOString());
      expect(await snapshot(a.db, { userIds: [userId], detailIds: [detail] })).toEqual(before);
    });

    it("a minute before the deadline it is still allowed", async () => {
      const { userId, detail, ids } = await paidSeats([1]);
      clock.offsetMs = (await startsAt(detail)) - a.config.cancelDeadlineSec * 1000 - 60_000 - Date.now();
      expect((await cancel(a, userId, ids[0])).status).toBe(200);
    });

    it("with CANCEL_DEADLINE_SEC=0 cancelling is allowed until the start", async () => {
      const late = await startBooking({ db: a.db, redis: a.redis, cancelDeadlineSec: 0 });
      try {
        const { userId, detail, ids } = await paidSeats([1]);
        clock.offsetMs = (await startsAt(detail)) - 1_000 - Date.now();
        expect((await cancel(a, userId, ids[0])).body.error?.code).toBe("CANCEL_DEADLINE_PASSED");
        expect((await cancel(late, userId, ids[0])).status).toBe(200);
      } finally {
        await late.close();
      }
    });
  });

  describe("races", () => {
    it.each([
      ["without keys", () => undefined],
      ["with one key", () => "same-key"],
      ["with a key each", (i: number) => `key-${i}`],
    ])("10 concurrent cancels of one reservation %s on two instances: exactly one REFUND row, the balance right", async (_, keyOf) => {
      const { userId, ids } = await paidSeats([9], 0);
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => cancel(i % 2 ? a : b, userId, ids[0], keyOf(i))));
      const ok = replies.filter((r) => r.status === 200);
      const refused = replies.filter((r) => r.status !== 200);
      if (keyOf(0) === "same-key") expect(ok).toHaveLength(10);
      else expect(ok).toHaveLength(1);
      expect(new Set(ok.map((r) => JSON.stringify(r.body.result))).size).toBe(1);
      expect(refused.every((r) => r.status === 409 && r.body.error?.code === "ALREADY_CANCELLED")).toBe(true);
      expect(await refundRows(ids)).toHaveLength(1);
      expect(await balance(userId)).toBe(PRICE);
      const ledger = await a.db.pointLedger.findMany({ where: { userId } });
      expect(ledger.reduce((s, l) => s + (l.type === "USE" ? -1 : 1) * Number(l.amount), 0)).toBe(PRICE);
    });

    it("a cancel racing 20 new holds of its seat: the seat ends with at most one live hold, and it matches the seat row", async () => {
      const { userId, detail, ids } = await paidSeats([11]);
      const rivals = Array.from({ length: 20 }, () => nextId());
      const [cancelled, ...holds] = await Promise.all([
        cancel(a, userId, ids[0]),
        ...rivals.map((u, i) => hold(i % 2 ? a : b, u, detail, 11)),
      ]);
      expect(cancelled.status).toBe(200);
      const won = holds.filter((h) => h.status === 201);
      expect(won.length).toBeLessThanOrEqual(1);
      expect(holds.filter((h) => h.status !== 201).every((h) => h.status === 409 && h.body.error?.code === "SEAT_UNAVAILABLE")).toBe(true);

      const seat = await a.db.seat.findFirstOrThrow({ where: { concertDetailId: detail, seatNo: 11 } });
      const live = await a.db.reservation.findMany({ where: { seatId: seat.id, status: { in: ["HELD", "CONFIRMED"] } } });
      expect(live.length).toBe(won.length);
      if (won.length) expect([seat.status, seat.reservationId]).toEqual(["HELD", won[0].body.result.reservationId]);
      else expect([seat.status, seat.reservationId]).toEqual(["FREE", null]);
      // whoever lost the race, the seat is holdable once the dust settles
      if (!won.length) expect((await hold(a, nextId(), detail, 11)).status).toBe(201);
      expect(await refundRows(ids)).toHaveLength(1);
    });
  });
});

describe("my tickets", () => {
  it("lists the user's reservations newest first with concert, date, seat, price, status, payment and refund", async () => {
    const { userId, detail, ids, paymentId } = await paidSeats([1, 2]);
    await cancel(a, userId, ids[0]);
    const held = await hold(a, userId, detail, 3);
    const r = await tickets(a, userId);
    expect(r.status).toBe(200);
    const concert = await a.db.concertDetail.findUniqueOrThrow({ where: { id: detail }, include: { concert: true } });
    const base = {
      concert: { id: concert.concertId, name: concert.concert.name },
      date: { concertDetailId: detail, startsAt: concert.startsAt.toISOString() },
      price: PRICE,
      createdAt: expect.any(String),
      expiresAt: expect.any(String),
    };
    expect(r.body.result).toEqual({
      reservations: [
        { ...base, reservationId: held.body.result.reservationId, seatId: 3, status: "HELD", payment: null, refund: null },
        {
          ...base,
          reservationId: ids[1],
          seatId: 2,
          status: "CONFIRMED",
          payment: { paymentId, paidAt: expect.any(String) },
          refund: null,
        },
        {
          ...base,
          reservationId: ids[0],
          seatId: 1,
          status: "CANCELLED",
          payment: { paymentId, paidAt: expect.any(String) },
          refund: { amount: PRICE, paymentId, ledgerId: expect.any(Number), refundedAt: expect.any(String) },
        },
      ],
      nextCursor: null,
    });
    // a hold past its expiry reads EXPIRED at once, before any sweep
    clock.advance(301_000);
    expect((await tickets(a, userId)).body.result.reservations[0].status).toBe("EXPIRED");
  });

  it("pages with ?limit= and the keyset cursor ?before=, and never shows another user's reservations", async () => {
    const userId = nextId();
    const other = nextId();
    const detail = (await newConcert(a.db)).detailIds[0];
    const mine: number[] = [];
    for (const seat of [1, 2, 3, 4, 5]) {
      const u = seat === 3 ? other : userId;
      const r = await call(a.url, "POST", "/api/reservations", { body: { concertDetailId: detail, userId: u, seatId: seat } });
      if (u === userId) mine.push(r.body.result.reservationId);
      if (mine.length === 4) break;
    }
    const newest = [...mine].reverse();
    const seen: number[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const r = await tickets(a, userId, `?limit=3${cursor ? `&before=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.result.reservations.map((t: { reservationId: number }) => t.reservationId));
      cursor = r.body.result.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(newest);
    expect(pages).toBe(2);
    expect((await tickets(a, other)).body.result.reservations).toHaveLength(1);
    // another user's list needs that user's passport
    const mismatch = await call(a.url, "GET", `/api/users/${other}/reservations`, { auth: passport({ userId }) });
    expect([mismatch.status, mismatch.body.error?.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
  });

  it.each(["?limit=0", "?limit=101", "?limit=x", "?before=0", "?page=2"])("a bad query %s is 400 VALIDATION_FAILED", async (query) => {
    const r = await tickets(a, nextId(), query);
    expect([r.status, r.body.error?.code]).toEqual([400, "VALIDATION_FAILED"]);
  });

  it("a user with no reservations gets an empty page", async () => {
    expect((await tickets(a, nextId())).body.result).toEqual({ reservations: [], nextCursor: null });
  });

  it("without ?limit= a page holds 20", async () => {
    const userId = nextId();
    const detail = (await newConcert(a.db)).detailIds[0];
    await a.db.user.create({ data: { id: userId } });
    const seats = await a.db.seat.findMany({ where: { concertDetailId: detail }, orderBy: { seatNo: "asc" }, take: 21 });
    await a.db.reservation.createMany({
      data: seats.map((s) => ({
        userId,
        concertDetailId: detail,
        seatId: s.id,
        seatNo: s.seatNo,
        price: PRICE,
        status: "EXPIRED" as const,
        expiresAt: new Date(),
      })),
    });
    const first = await tickets(a, userId);
    expect(first.body.result.reservations).toHaveLength(20);
    const rest = await tickets(a, userId, `?before=${first.body.result.nextCursor}`);
    expect([rest.body.result.reservations.length, rest.body.result.nextCursor]).toEqual([1, null]);
  });
});
