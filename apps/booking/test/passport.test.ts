import { PASSPORT_HEADER } from "@concert/shared";
import { call, nextId, passport, reserveIdBlock, startBooking, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
beforeAll(async () => {
  a = await startBooking();
});
afterAll(async () => {
  await a?.close();
});

function tamper(header: string): string {
  const [v, body, mac] = header.split(".");
  const payload = JSON.parse(Buffer.from(body, "base64url").toString());
  payload.userId = 1;
  return [v, Buffer.from(JSON.stringify(payload)).toString("base64url"), mac].join(".");
}

describe("the gateway passport", () => {
  const routes: [string, string, unknown?][] = [
    ["GET", "/api/concert/1/date"],
    ["GET", "/api/concert/1/seat"],
    ["POST", "/api/reservations", { concertDetailId: 1, userId: 1, seatId: 1 }],
    ["PATCH", "/api/users/point", { userId: 1, point: 10 }],
    ["GET", "/api/users/1/point"],
    ["POST", "/api/payment", { userId: 1, reservationId: 1 }],
    ["GET", "/api/nowhere"],
  ];
  const bad: [string, () => string | false][] = [
    ["missing", () => false],
    ["forged with another secret", () => passport({ userId: 1 }, "another-secret-of-16-chars")],
    ["tampered", () => tamper(passport({ userId: 2 }))],
    ["expired", () => passport({ userId: 1, exp: Date.now() - 1 })],
    ["garbage", () => "v1.abc"],
  ];
  it.each(bad)("a %s passport is 401 PASSPORT_INVALID on every /api route, and nothing changes", async (_n, auth) => {
    const before = await a.db.user.count();
    for (const [method, path, body] of routes) {
      const r = await call(a.url, method, path, { auth: auth(), body });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 401, "PASSPORT_INVALID"]);
    }
    expect(await a.db.user.count()).toBe(before);
  });

  it("a passport of another user is 403 on user routes; a passport without a user (point routes) is accepted", async () => {
    const [me, other] = [nextId(), nextId()];
    const r = await call(a.url, "GET", `/api/users/${other}/point`, { auth: passport({ userId: me }) });
    expect([r.status, r.body.error?.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
    const ok = await call(a.url, "GET", `/api/users/${other}/point`, { auth: passport({}) });
    expect(ok.status).toBe(200);
  });

  it("/health and /ready need no passport", async () => {
    expect((await call(a.url, "GET", "/health", { auth: false })).body).toEqual({ result: { status: "ok" }, error: null });
    const ready = await call(a.url, "GET", "/ready", { auth: false });
    expect(ready.status).toBe(200);
    expect(ready.body.result).toMatchObject({ postgres: "up", redis: "up" });
  });

  it("uses the x-queue-passport header name from the shared package", () => {
    expect(PASSPORT_HEADER).toBe("x-queue-passport");
  });
});
