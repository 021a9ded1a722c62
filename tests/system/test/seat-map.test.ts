import { call } from "./support/client";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { admitUsers, timeUntil } from "./support/scenario";

// Scenario 12 (issue 16). The seat map and the dates of a concert are answered by the gateways
// from booking's read model in Redis; after every change of a seat's state (hold, release,
// payment, refund, expiry) every gateway instance shows it within 100 ms, and the model always
// agrees with Postgres, also after it was lost and rebuilt while holds were being made.
const HOLD_TTL_SEC = 2;
const FRESH_MS = 100;

describe("system: seat map read model", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ tag: "seatmap", bookingEnv: { SEAT_HOLD_TTL_SEC: String(HOLD_TTL_SEC), SWEEP_INTERVAL_MS: "200" } });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  /** The free seats of a performance as Postgres says (booking's seat-sql.ts rule). */
  const freeInPostgres = async (detailId: number): Promise<number[]> => {
    const { rows } = await sys.db.pool.query<{ seat_no: number }>(
      `SELECT seat_no FROM seat WHERE concert_detail_id = $1 AND (status = 'FREE' OR (status = 'HELD' AND hold_until <= now())) ORDER BY seat_no`,
      [detailId],
    );
    return rows.map((r) => r.seat_no);
  };

  /** Seat-map reads the booking instances served (their own latency histogram's count). */
  const bookingSeatReads = async (): Promise<number> => {
    let n = 0;
    for (const b of sys.bookings) {
      const r = await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${sys.metricsToken}` } });
      const text = await r.text();
      for (const m of text.matchAll(
        /http_request_duration_seconds_count\{[^}]*route="\/api\/concert\/:concertDetailId\/seat"[^}]*\} (\d+)/g,
      ))
        n += Number(m[1]);
    }
    return n;
  };

  const seatsOn = async (gw: string, token: string, detailId: number): Promise<number[]> => {
    const r = await call(gw, "GET", `/api/concert/${detailId}/seat`, { token });
    if (r.status !== 200) throw new Error(`seat map: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.result as number[];
  };

  /** ms until every gateway shows `expected(free seats)` for the performance (fails the test past `FRESH_MS`). */
  const everyGatewayShows = async (token: string, detailId: number, expected: (free: number[]) => boolean): Promise<number> => {
    const waits = await Promise.all(
      sys.gateways.map((g) => timeUntil(async () => expected(await seatsOn(g.url, token, detailId)), 1_000, 5)),
    );
    return Math.max(...waits);
  };

  /** ms until every gateway's dates of the concert give `d` `n` available seats. */
  const everyGatewayCounts = async (token: string, concertId: number, d: number, n: number): Promise<number> => {
    const counts = async (gw: string) => {
      const r = await call(gw, "GET", `/api/concert/${concertId}/date`, { token });
      return r.body.result.concertInfos.find((i: { concertDetailId: number }) => i.concertDetailId === d)?.availableSeats === n;
    };
    return Math.max(...(await Promise.all(sys.gateways.map((g) => timeUntil(() => counts(g.url), 1_000, 5)))));
  };

  it("12. every gateway shows each hold, release, payment, refund and expiry within 100 ms, and agrees with Postgres", async () => {
    const { concertId, detailIds } = await sys.concert(2);
    const [d1, d2] = detailIds;
    const [alice, bob] = sys.userIds(2);
    const tokens = await admitUsers(sys.gateways[0].url, [alice, bob]);
    const token = tokens.get(alice)!;
    const watcher = tokens.get(bob)!; // reads the map throughout (alice's token ends with her payment)
    const [gw1, gw2] = sys.gateways.map((g) => g.url);
    const mapKey = `${sys.bookingPrefix}:seatmap:{${d1}}`;

    // the first read reaches booking (nothing built yet) and builds the map; the next are the model's
    expect(await sys.redis.exists(mapKey)).toBe(0);
    expect(await seatsOn(gw1, token, d1)).toEqual(await freeInPostgres(d1));
    expect(await sys.redis.hget(mapKey, "ready")).toBe("1");
    // from now on the gateways answer it themselves: booking serves no more seat-map reads
    const reachedBooking = await bookingSeatReads();
    expect(reachedBooking).toBe(1);
    for (const g of sys.gateways) expect(await seatsOn(g.url, token, d1)).toEqual(await freeInPostgres(d1));
    expect(await bookingSeatReads()).toBe(reachedBooking);
    const dates = await call(gw2, "GET", `/api/concert/${concertId}/date`, { token });
    expect(dates.status).toBe(200);
    expect(dates.body.result.concertInfos.map((i: { availableSeats: number }) => i.availableSeats)).toEqual([50, 50]);
    expect(await sys.redis.exists(`${sys.bookingPrefix}:concert:{${concertId}}`)).toBe(1);

    const waits: Record<string, number> = {};
    // hold
    const hold = await call(gw1, "POST", "/api/reservations", { token, body: { concertDetailId: d1, userId: alice, seatId: 7 } });
    expect(hold.status).toBe(201);
    waits.hold = await everyGatewayShows(watcher, d1, (free) => !free.includes(7));
    // release
    const released = await call(gw2, "DELETE", `/api/reservations/${hold.body.result.reservationId}`, { token });
    expect(released.status).toBe(200);
    waits.release = await everyGatewayShows(watcher, d1, (free) => free.includes(7));
    // payment
    const charged = await call(gw1, "PATCH", "/api/users/point", { body: { userId: alice, point: 100_000 } });
    expect(charged.status).toBe(200);
    const hold2 = await call(gw2, "POST", "/api/reservations", { token, body: { concertDetailId: d1, userId: alice, seatId: 8 } });
    expect(hold2.status).toBe(201);
    const paid = await call(gw1, "POST", "/api/payment", {
      token,
      body: { userId: alice, reservationId: hold2.body.result.reservationId },
    });
    expect(paid.status).toBe(200);
    waits.payment = await everyGatewayShows(watcher, d1, (free) => !free.includes(8));
    waits.paymentDates = await everyGatewayCounts(watcher, concertId, d1, 49);
    // refund
    const cancelled = await call(gw2, "POST", `/api/reservations/${hold2.body.result.reservationId}/cancel`, { body: { userId: alice } });
    expect(cancelled.status).toBe(200);
    waits.refund = await everyGatewayShows(watcher, d1, (free) => free.includes(8));
    waits.refundDates = await everyGatewayCounts(watcher, concertId, d1, 50);
    // expiry: nobody touches anything; the hold's time running out frees the seat on every gateway
    const hold3 = await call(gw1, "POST", "/api/reservations", { token: watcher, body: { concertDetailId: d2, userId: bob, seatId: 1 } });
    expect(hold3.status).toBe(201);
    expect(await seatsOn(gw2, watcher, d2)).not.toContain(1);
    const expiresAt = Date.parse(hold3.body.result.expiresAt);
    await timeUntil(async () => Date.now() >= expiresAt, 5_000, 5);
    waits.expiry = await everyGatewayShows(watcher, d2, (free) => free.includes(1));

    report(`seat map: visible on every gateway after ${JSON.stringify(waits)} ms`);
    for (const [change, ms] of Object.entries(waits)) expect([change, ms <= FRESH_MS]).toEqual([change, true]);
    for (const d of detailIds) {
      for (const gw of [gw1, gw2]) expect(await seatsOn(gw, watcher, d)).toEqual(await freeInPostgres(d));
    }
    // the sweep tidies the expired hold (and writes the map again, changing nothing it shows)
    const swept = async () =>
      (await sys.db.pool.query(`SELECT status FROM reservation WHERE id = $1`, [hold3.body.result.reservationId])).rows[0].status ===
      "EXPIRED";
    expect(await timeUntil(swept, 5_000)).toBeGreaterThanOrEqual(0);
    expect(await seatsOn(gw1, watcher, d2)).toContain(1);
    const inv = await sys.invariants();
    report(`seat map: ${invariantText(inv)}`);
    expect(inv.violations).toEqual([]);
  }, 60_000);

  it("12. the gateways' own answers refuse what a forward refuses: no token, a malformed or an unknown one (envelope, booking not reached)", async () => {
    const {
      detailIds: [d],
    } = await sys.concert(1);
    const [admitted] = sys.userIds(1);
    const tokens = await admitUsers(sys.gateways[0].url, [admitted]);
    const gw = sys.gateways[1].url;
    expect((await call(gw, "GET", `/api/concert/${d}/seat`, { token: tokens.get(admitted) })).status).toBe(200); // built
    const before = await bookingSeatReads();
    const answers = {
      none: await call(gw, "GET", `/api/concert/${d}/seat`),
      malformed: await call(gw, "GET", `/api/concert/${d}/seat`, { token: "not-a-token" }),
      unknown: await call(gw, "GET", `/api/concert/${d}/seat`, { token: "8d1b6c35-0000-8000-8000-000000000000" }),
    };
    expect([answers.none.status, answers.none.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
    expect([answers.malformed.status, answers.malformed.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
    expect([answers.unknown.status, answers.unknown.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
    for (const a of Object.values(answers)) expect(a.headers["x-request-id"]).toEqual(expect.any(String));
    expect(await bookingSeatReads()).toBe(before);
  }, 60_000);

  it("12. a map lost while holds are being made is rebuilt from Postgres and agrees with it (rebuild racing changes)", async () => {
    const {
      concertId,
      detailIds: [d],
    } = await sys.concert(1);
    const users = sys.userIds(20);
    const tokens = await admitUsers(sys.gateways[0].url, users);
    const mapKey = `${sys.bookingPrefix}:seatmap:{${d}}`;
    const [gw1, gw2] = sys.gateways.map((g) => g.url);
    const anyToken = tokens.get(users[0])!;
    await seatsOn(gw1, anyToken, d); // built
    // each user holds one seat while the map is deleted again and again and read (rebuilt) from both gateways
    let stop = false;
    const churn = (async () => {
      for (let i = 0; !stop; i++) {
        await sys.redis.del(mapKey);
        await Promise.all([
          seatsOn(i % 2 ? gw1 : gw2, anyToken, d),
          call(gw2, "GET", `/api/concert/${concertId}/date`, { token: anyToken }),
        ]);
      }
    })();
    const holds = await Promise.all(
      users.map((userId, i) =>
        call(i % 2 ? gw1 : gw2, "POST", "/api/reservations", {
          token: tokens.get(userId),
          body: { concertDetailId: d, userId, seatId: i + 1 },
        }),
      ),
    );
    stop = true;
    await churn;
    expect(holds.map((h) => h.status)).toEqual(users.map(() => 201));
    const truth = await freeInPostgres(d);
    expect(truth).toEqual(Array.from({ length: 30 }, (_, i) => i + 21));
    for (const gw of [gw1, gw2]) expect(await seatsOn(gw, anyToken, d)).toEqual(truth);
    expect(await sys.redis.hget(mapKey, "ready")).toBe("1");
    expect((await sys.invariants()).violations).toEqual([]);
  }, 60_000);
});
