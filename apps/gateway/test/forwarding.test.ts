import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import { bodyDigest } from "@concert/shared";
import { testClock, type TestClock } from "@concert/test-support";
import { loadConfig } from "../src/config";
import { call, closedPort, startFakeBooking, startGateway, type RunningGateway, seatGateOf } from "./helpers";

describe("forwarding to booking with a signed passport", () => {
  let gw: RunningGateway;
  let booking: Awaited<ReturnType<typeof startFakeBooking>>;
  let clock: TestClock;
  const tickMs = 10;
  beforeEach(async () => {
    booking = await startFakeBooking();
    clock = testClock();
    gw = await startGateway({ BOOKING_URL: booking.url, QUEUE_ADMIT_BATCH: "1", QUEUE_TICK_MS: String(tickMs) }, { clock });
  });
  afterEach(async () => {
    await gw.close();
    await booking.close();
  });

  async function admittedToken(userId: number): Promise<string> {
    const token = (await call(gw.url, "POST", "/api/users/token", { body: { userId } })).body.result.token;
    clock.advance(tickMs); // a fresh tick slot
    await gw.gateway.ticker.runOnce();
    return token;
  }

  it("forwards an admitted user's request, keeping path and body, with a passport naming user and token", async () => {
    const token = await admittedToken(7);
    const r = await call(gw.url, "POST", "/api/reservations", {
      body: { concertDetailId: 1, userId: 7, seatId: 3 },
      headers: { token, "x-request-id": "req-abc" },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("x-request-id")).toBe("req-abc");
    expect(booking.seen).toHaveLength(1);
    expect(booking.seen[0]).toMatchObject({
      method: "POST",
      path: "/api/reservations",
      body: { concertDetailId: 1, userId: 7, seatId: 3 },
      passport: { userId: 7, queueToken: token, requestId: "req-abc" },
      requestId: "req-abc",
    });
  });

  it("tells booking when it stops waiting: the passport's deadline is BOOKING_TIMEOUT_MS after sending", async () => {
    const token = await admittedToken(6);
    const before = Date.now();
    await call(gw.url, "POST", "/api/reservations", { body: { concertDetailId: 1, userId: 6, seatId: 3 }, headers: { token } });
    const { deadline } = booking.seen[0].passport as { deadline: number };
    const timeoutMs = loadConfig({ NODE_ENV: "test" }).BOOKING_TIMEOUT_MS; // the default, which beforeEach's gateway runs with
    expect(deadline).toBeGreaterThanOrEqual(before + timeoutMs);
    expect(deadline).toBeLessThanOrEqual(Date.now() + timeoutMs);
  });

  it("refuses a hold of a seat already claimed in booking's gate with 409 SEAT_UNAVAILABLE, before booking", async () => {
    const token = await admittedToken(8);
    const { redis, keys } = seatGateOf(gw);
    const key = keys.seat(1, 9);
    await redis.set(key, "r:123", "PX", 5000);
    try {
      const refused = await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 8, seatId: 9 },
        headers: { token },
      });
      expect([refused.status, refused.body.error.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
      expect(booking.seen).toHaveLength(0);
      const free = await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 8, seatId: 10 },
        headers: { token },
      });
      expect(free.status).toBe(200); // the fake booking's answer: forwarded
      expect(booking.seen.map((s) => s.path)).toEqual(["/api/reservations"]);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/holds_refused_at_gateway_total\{app="gateway"\} 1/);
      // a retry under an Idempotency-Key goes on to booking, which answers it with the hold it made
      await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 8, seatId: 9 },
        headers: { token, "idempotency-key": "hold-9" },
      });
      expect(booking.seen.map((s) => s.idempotencyKey)).toEqual([undefined, "hold-9"]);
    } finally {
      await redis.del(key);
    }
  });

  it("judges the token (and the named user) before the seat gate, though it reads both at once: no seat refusal counted for them", async () => {
    const token = await admittedToken(9);
    const { redis, keys } = seatGateOf(gw);
    const key = keys.seat(1, 11);
    await redis.set(key, "r:124", "PX", 5000);
    try {
      const body = { concertDetailId: 1, userId: 9, seatId: 11 };
      const unknown = await call(gw.url, "POST", "/api/reservations", { body, headers: { token: "00000000-0000-4000-8000-000000000000" } });
      expect([unknown.status, unknown.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
      const other = await call(gw.url, "POST", "/api/reservations", { body: { ...body, userId: 10 }, headers: { token } });
      expect([other.status, other.body.error.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/holds_refused_at_gateway_total\{app="gateway"\} 0/);
      const refused = await call(gw.url, "POST", "/api/reservations", { body, headers: { token } });
      expect([refused.status, refused.body.error.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/holds_refused_at_gateway_total\{app="gateway"\} 1/);
      expect(booking.seen).toHaveLength(0);
    } finally {
      await redis.del(key);
    }
  });

  it("refuses a several-seat hold when any of its seats is claimed in booking's gate, naming those seats, before booking", async () => {
    const token = await admittedToken(8);
    const { redis, keys } = seatGateOf(gw);
    await redis.set(keys.seat(1, 12), "r:124", "PX", 5000);
    await redis.set(keys.seat(1, 14), "r:125", "PX", 5000);
    try {
      const refused = await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 8, seatIds: [14, 11, 12] },
        headers: { token },
      });
      expect([refused.status, refused.body.error.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
      expect(refused.body.error.details).toMatchObject({ seatIds: [12, 14] });
      expect(booking.seen).toHaveLength(0);
      const free = await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 8, seatIds: [11, 13] },
        headers: { token },
      });
      expect(free.status).toBe(200); // the fake booking's answer: forwarded
      expect(booking.seen).toHaveLength(1);
    } finally {
      await redis.del(keys.seat(1, 12), keys.seat(1, 14));
    }
  });

  it("keeps the query string and the Idempotency-Key header", async () => {
    const token = await admittedToken(3);
    await call(gw.url, "POST", "/api/payment?x=1", { body: { userId: 3, reservationId: 1 }, headers: { token, "idempotency-key": "k-1" } });
    expect(booking.seen[0]).toMatchObject({ path: "/api/payment?x=1", idempotencyKey: "k-1" });
  });

  it("refuses protected routes without a usable token, and booking never sees them", async () => {
    const waiting = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } })).body.result.token;
    const waiting2 = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 2 } })).body.result.token;
    await gw.gateway.ticker.runOnce(); // admits user 1 only
    const cases: [string, string, Record<string, string>, unknown, number, string][] = [
      ["GET", "/api/concert/1/date", {}, undefined, 401, "TOKEN_INVALID"],
      ["GET", "/api/concert/1/date", { token: "zzz" }, undefined, 401, "TOKEN_INVALID"],
      ["GET", "/api/concert/1/date", { token: "11111111-2222-4333-8444-555555555555" }, undefined, 401, "TOKEN_INVALID"],
      ["GET", "/api/concert/1/seat", { token: waiting2 }, undefined, 403, "TOKEN_NOT_ACTIVE"],
      ["POST", "/api/reservations", { token: waiting }, { concertDetailId: 1, userId: 2, seatId: 1 }, 403, "TOKEN_USER_MISMATCH"],
      ["POST", "/api/payment", { token: waiting }, { reservationId: 1, userId: 99 }, 403, "TOKEN_USER_MISMATCH"],
    ];
    for (const [method, path, headers, body, status, code] of cases) {
      const r = await call(gw.url, method, path, { headers, body });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, status, code]);
      expect(r.body.result).toBeNull();
    }
    expect(booking.seen).toHaveLength(0);
  });

  it("forwards point routes without a token, with a passport for the user the request names", async () => {
    const charge = await call(gw.url, "PATCH", "/api/users/point", { body: { userId: 5, point: 100 } });
    const balance = await call(gw.url, "GET", "/api/users/5/point");
    expect([charge.status, balance.status]).toEqual([200, 200]);
    expect(booking.seen.map((s) => [s.method, s.path])).toEqual([
      ["PATCH", "/api/users/point"],
      ["GET", "/api/users/5/point"],
    ]);
    expect(booking.seen.map((s) => [s.passport.userId, s.passport.queueToken])).toEqual([
      [5, undefined],
      [5, undefined],
    ]);
  });

  it("forwards cancel and my reservations without a queue token: the user the request names, the query, the Idempotency-Key", async () => {
    const cancel = await call(gw.url, "POST", "/api/reservations/12/cancel", {
      body: { userId: 5 },
      headers: { "idempotency-key": "c-1" },
    });
    const list = await call(gw.url, "GET", "/api/users/5/reservations?limit=3&before=40");
    expect([cancel.status, list.status]).toEqual([200, 200]);
    expect(booking.seen.map((s) => [s.method, s.passport.path, s.passport.userId, s.passport.queueToken, s.idempotencyKey])).toEqual([
      ["POST", "/api/reservations/12/cancel", 5, undefined, "c-1"],
      ["GET", "/api/users/5/reservations?limit=3&before=40", 5, undefined, undefined],
    ]);
    // a cancel naming no user is answered here, as booking would
    const noUser = await call(gw.url, "POST", "/api/reservations/12/cancel", { body: {} });
    expect([noUser.status, noUser.body.error?.code, booking.seen.length]).toEqual([400, "VALIDATION_FAILED", 2]);
  });

  it("binds each passport to the method, path and query, and body it was sent with", async () => {
    const body = { userId: 5, point: 100 };
    await call(gw.url, "PATCH", "/api/users/point?from=test", { body });
    await call(gw.url, "GET", "/api/users/5/point");
    expect(booking.seen.map((s) => [s.passport.method, s.passport.path, s.passport.bodyDigest])).toEqual([
      ["PATCH", "/api/users/point?from=test", bodyDigest(JSON.stringify(body))],
      ["GET", "/api/users/5/point", bodyDigest()],
    ]);
  });

  it("answers a point route that names no valid user 400 itself, as booking would, without forwarding", async () => {
    const noUser = await call(gw.url, "PATCH", "/api/users/point", { body: { point: 100 } });
    const badPath = await call(gw.url, "GET", "/api/users/0/point");
    expect([noUser.status, noUser.body.error?.code, badPath.status, badPath.body.error?.code]).toEqual([
      400,
      "VALIDATION_FAILED",
      400,
      "VALIDATION_FAILED",
    ]);
    expect(booking.seen).toHaveLength(0);
  });

  it("after payment finishes the token, only POST /api/payment still passes (replay window)", async () => {
    const token = await admittedToken(4);
    await gw.gateway.store.finish(token, "paid");
    const replay = await call(gw.url, "POST", "/api/payment", { body: { userId: 4, reservationId: 9 }, headers: { token } });
    expect(replay.status).toBe(200);
    expect(booking.seen[0].passport).toMatchObject({ userId: 4, queueToken: token, replay: true });
    const other = await call(gw.url, "GET", "/api/concert/1/date", { headers: { token } });
    expect([other.status, other.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
    const polled = await call(gw.url, "GET", "/api/users/4/token", { headers: { token } });
    expect(polled.body.result.status).toBe("FINISHED");
  });

  it("a use of an admitted token pushes its expiry out (sliding TTL)", async () => {
    const token = await admittedToken(6);
    const keys = gw.gateway.store.keys;
    const redis = (gw.gateway.store as unknown as { redis: Redis }).redis;
    const before = Number(await redis.zscore(keys.active, token));
    clock.advance(20);
    await call(gw.url, "GET", "/api/concert/1/date", { headers: { token } });
    expect(Number(await redis.zscore(keys.active, token))).toBeGreaterThan(before);
  });
});

describe("when booking is down", () => {
  it("answers 503 with Retry-After, not a hang or a 500", async () => {
    const gw = await startGateway({ BOOKING_URL: `http://127.0.0.1:${await closedPort()}` });
    try {
      const started = Date.now();
      const r = await call(gw.url, "GET", "/api/users/1/point");
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(r.body).toMatchObject({ result: null, error: { code: "SERVICE_UNAVAILABLE" } });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await gw.close();
    }
  });

  it("sends requests to the live instance when one of two booking instances is down", async () => {
    const live = await startFakeBooking();
    const gw = await startGateway({ BOOKING_URL: `http://127.0.0.1:${await closedPort()},${live.url}` });
    try {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(gw.url, "GET", `/api/users/${i + 1}/point`)));
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(live.seen).toHaveLength(20);
    } finally {
      await gw.close();
      await live.close();
    }
  });
});

describe("a burst of holds of one seat on one gateway instance", () => {
  /** A booking stand-in whose hold answer is chosen per test, after a delay (a slow Postgres). */
  async function slowBooking(answer: { status: number; code?: string }) {
    const { createServer } = await import("node:http");
    let holds = 0;
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        holds++;
        setTimeout(() => {
          res.writeHead(answer.status, { "content-type": "application/json" });
          const error = answer.code ? { code: answer.code, message: "from booking" } : null;
          res.end(JSON.stringify({ result: error ? null : { reservationId: holds }, error }));
        }, 150);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      holds: () => holds,
      close: () => new Promise((r) => server.close(r)),
    };
  }

  async function burst(answer: { status: number; code?: string }, seats: (i: number) => Record<string, unknown> = () => ({ seatId: 5 })) {
    const booking = await slowBooking(answer);
    const clock = testClock();
    const gw = await startGateway({ BOOKING_URL: booking.url, QUEUE_ADMIT_BATCH: "20", QUEUE_TICK_MS: "10" }, { clock });
    try {
      const tokens: string[] = [];
      for (let u = 1; u <= 20; u++)
        tokens.push((await call(gw.url, "POST", "/api/users/token", { body: { userId: u } })).body.result.token);
      clock.advance(10); // a fresh tick slot
      await gw.gateway.ticker.runOnce();
      const answers = await Promise.all(
        tokens.map((token, i) =>
          call(gw.url, "POST", "/api/reservations", { body: { concertDetailId: 1, userId: i + 1, ...seats(i) }, headers: { token } }),
        ),
      );
      return { statuses: answers.map((a) => `${a.status} ${a.body.error?.code ?? ""}`.trim()).sort(), holds: booking.holds() };
    } finally {
      await gw.close();
      await booking.close();
    }
  }

  it("sends one hold to booking and refuses the rest with 409 once it won", async () => {
    const { statuses, holds } = await burst({ status: 201 });
    expect(holds).toBe(1);
    expect(statuses).toEqual(["201", ...Array(19).fill("409 SEAT_UNAVAILABLE")]);
  });

  it("covers every seat of a several-seat hold: overlapping sets never wait on each other in a ring, and the waiters of a won seat are refused", async () => {
    const sets = [[5, 6], [7, 6], [6]];
    const { statuses, holds } = await burst({ status: 201 }, (i) => ({ seatIds: sets[i % 3] }));
    // the first won seat 6: every hold waiting on it is refused; a [5, 6] waiting only on a
    // refused [5, 6]'s seat 5 may go on once 6 is no longer in flight (booking's gate refuses it)
    expect(holds).toBeGreaterThanOrEqual(1);
    expect(holds).toBeLessThanOrEqual(3);
    expect(statuses).toEqual([...Array(holds).fill("201"), ...Array(20 - holds).fill("409 SEAT_UNAVAILABLE")]);
  });

  it("sends the others on when the first hold did not win (its answer was about that user)", async () => {
    const { statuses, holds } = await burst({ status: 409, code: "HOLD_LIMIT" });
    expect(holds).toBe(20);
    expect(statuses).toEqual(Array(20).fill("409 HOLD_LIMIT"));
  });
});
