import { holdView, paymentView, pointView, performanceList, seatList } from "@concert/shared";
import { call, newConcert, nextId, passport, reserveIdBlock, startBooking, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
beforeAll(async () => {
  a = await startBooking();
});
afterAll(() => a?.close());

describe("booking observability", () => {
  it("counts holds created and refused by code, and payments by outcome, on /metrics", async () => {
    const { detailIds } = await newConcert(a.db, { seatPrice: 100 });
    const [u1, u2] = [nextId(), nextId()];
    const won = await call(a.url, "POST", "/api/reservations", {
      auth: passport({ userId: u1 }),
      body: { concertDetailId: detailIds[0], userId: u1, seatId: 3 },
    });
    const lost = await call(a.url, "POST", "/api/reservations", {
      auth: passport({ userId: u2 }),
      body: { concertDetailId: detailIds[0], userId: u2, seatId: 3 },
    });
    expect([won.status, lost.status]).toEqual([201, 409]);
    const short = await call(a.url, "POST", "/api/payment", {
      auth: passport({ userId: u1 }),
      body: { reservationId: won.body.result.reservationId, userId: u1 },
    });
    expect(short.body.error?.code).toBe("INSUFFICIENT_POINTS");
    await call(a.url, "PATCH", "/api/users/point", { body: { userId: u1, point: 100 } });
    const paid = await call(a.url, "POST", "/api/payment", {
      auth: passport({ userId: u1 }),
      body: { reservationId: won.body.result.reservationId, userId: u1 },
    });
    expect(paid.status).toBe(200);

    const text = await (await fetch(`${a.url}/metrics`)).text();
    // a sample line with these labels (in any order) and a positive value
    const sample = (name: string, labels: Record<string, string>) =>
      text.split("\n").some((line) => {
        const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
        if (!m || m[1] !== name || !(Number(m[3]) > 0)) return false;
        return Object.entries({ app: "booking", ...labels }).every(([k, v]) => m[2].split(",").includes(`${k}="${v}"`));
      });
    expect(sample("holds_created_total", {})).toBe(true);
    expect(sample("holds_refused_total", { code: "SEAT_UNAVAILABLE" })).toBe(true);
    expect(sample("payments_total", { outcome: "INSUFFICIENT_POINTS" })).toBe(true);
    expect(sample("payments_total", { outcome: "PAID" })).toBe(true);
    expect(sample("http_request_duration_seconds_count", { method: "POST", route: "/api/reservations", status: "201" })).toBe(true);
    expect(sample("payments_total", { outcome: "NOT_OWNER" })).toBe(false);
  });

  it("answers in the shapes the gateway's OpenAPI document describes", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { seatPrice: 10 });
    const user = nextId();
    const auth = passport({ userId: user });
    const dates = await call(a.url, "GET", `/api/concert/${concertId}/date`, { auth });
    expect(performanceList.safeParse(dates.body.result).success).toBe(true);
    const seats = await call(a.url, "GET", `/api/concert/${detailIds[0]}/seat`, { auth });
    expect(seatList.safeParse(seats.body.result).success).toBe(true);
    const held = await call(a.url, "POST", "/api/reservations", { auth, body: { concertDetailId: detailIds[0], userId: user, seatId: 1 } });
    expect(holdView.safeParse(held.body.result).success).toBe(true);
    const charged = await call(a.url, "PATCH", "/api/users/point", { body: { userId: user, point: 10 } });
    expect(pointView.safeParse(charged.body.result).success).toBe(true);
    const paid = await call(a.url, "POST", "/api/payment", { auth, body: { reservationId: held.body.result.reservationId, userId: user } });
    expect(paymentView.safeParse(paid.body.result).success).toBe(true);
  });

  it("keeps the request id the gateway sent", async () => {
    const r = await call(a.url, "GET", `/api/users/${nextId()}/point`, { headers: { "x-request-id": "trace-7" } });
    expect(r.headers.get("x-request-id")).toBe("trace-7");
  });
});

describe("booking /metrics access", () => {
  it("with a metrics token, /metrics needs it as a bearer token (401 without, 403 with another); without one it stays open", async () => {
    const token = "b".repeat(20);
    const guarded = await startBooking({ metricsToken: token });
    try {
      const none = await call(guarded.url, "GET", "/metrics", { auth: false });
      const wrong = await call(guarded.url, "GET", "/metrics", { auth: false, headers: { authorization: "Bearer nope" } });
      expect([none.status, none.body.error?.code, wrong.status, wrong.body.error?.code]).toEqual([401, "UNAUTHORIZED", 403, "FORBIDDEN"]);
      const right = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect([right.status, (await right.text()).includes("holds_created_total")]).toEqual([200, true]);
    } finally {
      await guarded.close();
    }
    expect((await fetch(`${a.url}/metrics`)).status).toBe(200);
  });

  it("with its own listener, /metrics is not on the app", async () => {
    const inst = await startBooking({ metricsOwnListener: true });
    try {
      expect((await call(inst.url, "GET", "/metrics", { auth: false })).status).toBe(404);
    } finally {
      await inst.close();
    }
  });
});
