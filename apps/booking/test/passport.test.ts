import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { PASSPORT_HEADER, seatGateKeys } from "@concert/shared";
import { signPassportFor, type PassportClaims, type PassportRequest } from "@concert/test-support";
import { SECRET, call, newConcert, nextId, passport, reserveIdBlock, snapshot, startBooking, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
/** the same app served by Express alone (the path a request the hot dispatch leaves takes) */
let expressOnly: { url: string; close: () => Promise<void> };
beforeAll(async () => {
  a = await startBooking();
  const server = createServer(a.app);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  expressOnly = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
});
afterAll(async () => {
  await expressOnly?.close();
  await a?.close();
});

/** The header with another user in its payload, the signature kept. */
function tamper(header: string): string {
  const [v, body, mac] = header.split(".");
  const payload = JSON.parse(Buffer.from(body, "base64url").toString());
  payload.userId = 1;
  return [v, Buffer.from(JSON.stringify(payload)).toString("base64url"), mac].join(".");
}

type Route = [method: string, path: string, body?: unknown];

describe("the gateway passport", () => {
  const routes: Route[] = [
    ["GET", "/api/concert/1/date"],
    ["GET", "/api/concert/1/seat"],
    ["POST", "/api/reservations", { concertDetailId: 1, userId: 1, seatId: 1 }],
    ["PATCH", "/api/users/point", { userId: 1, point: 10 }],
    ["GET", "/api/users/1/point"],
    ["POST", "/api/payment", { userId: 1, reservationId: 1 }],
    ["GET", "/api/nowhere"],
  ];
  const signed = ([method, path, body]: Route, claims: PassportClaims) => signPassportFor(SECRET, { method, path, body }, claims);
  const bad: [string, (route: Route) => string | false | ReturnType<typeof passport>][] = [
    ["missing", () => false],
    ["forged with another secret", () => passport({ userId: 1 }, "another-secret-of-16-chars")],
    ["tampered", (route) => tamper(signed(route, { userId: 2 }))],
    ["expired", () => passport({ userId: 1, exp: Date.now() - 1 })],
    ["userless", () => passport({} as PassportClaims)],
    ["garbage", () => "v2.abc"],
  ];
  it.each(bad)("a %s passport is 401 PASSPORT_INVALID on every /api route, and nothing changes", async (_n, auth) => {
    const before = await a.db.user.count();
    for (const route of routes) {
      const [method, path, body] = route;
      const r = await call(a.url, method, path, { auth: auth(route), body });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 401, "PASSPORT_INVALID"]);
    }
    expect(await a.db.user.count()).toBe(before);
  });

  it("a passport made for one charge, used for a hold, a payment, another charge, method or path, is 401 and changes nothing; for its own request it is accepted", async () => {
    const user = nextId();
    const { detailIds } = await newConcert(a.db, { seatPrice: 100 });
    expect((await call(a.url, "PATCH", "/api/users/point", { body: { userId: user, point: 1_000 } })).status).toBe(200);
    const hold = await call(a.url, "POST", "/api/reservations", { body: { concertDetailId: detailIds[0], userId: user, seatId: 1 } });
    expect(hold.status).toBe(201);
    const reservationId = hold.body.result.reservationId as number;

    const made: PassportRequest = { method: "PATCH", path: "/api/users/point", body: { userId: user, point: 10 } };
    const captured = signPassportFor(SECRET, made, { userId: user });
    const before = await snapshot(a.db, { userIds: [user], detailIds });
    const replays: [string, Route][] = [
      ["a hold", ["POST", "/api/reservations", { concertDetailId: detailIds[0], userId: user, seatId: 2 }]],
      ["a payment", ["POST", "/api/payment", { userId: user, reservationId }]],
      ["a charge of another amount", ["PATCH", "/api/users/point", { userId: user, point: 1_000_000 }]],
      ["the same charge written in other bytes", ["PATCH", "/api/users/point", `{"point":10,"userId":${user}}`]],
      ["the charge's body with another method", ["POST", "/api/users/point", made.body]],
      ["the charge with a query string", ["PATCH", "/api/users/point?again=1", made.body]],
      ["the balance read", ["GET", `/api/users/${user}/point`]],
    ];
    for (const [name, [method, path, body]] of replays) {
      const r = await call(a.url, method, path, { auth: captured, body });
      expect([name, r.status, r.body.error?.code, r.body.error?.message]).toEqual([
        name,
        401,
        "PASSPORT_INVALID",
        expect.stringMatching(/bound to another request/),
      ]);
    }
    expect(await snapshot(a.db, { userIds: [user], detailIds })).toEqual(before);

    const genuine = await call(a.url, made.method, made.path, { auth: captured, body: made.body });
    expect([genuine.status, genuine.body.result]).toEqual([200, { userId: user, point: 1_010 }]);
  });

  it("a passport for a write is good once: the exact request it was made for, sent 10 times at once, charges once", async () => {
    const user = nextId();
    const made: PassportRequest = { method: "PATCH", path: "/api/users/point", body: { userId: user, point: 10 } };
    const captured = signPassportFor(SECRET, made, { userId: user });
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => call(a.url, made.method, made.path, { auth: captured, body: made.body })),
    );
    const outcomes = replies.map((r) => `${r.status} ${r.body.error?.message ?? "ok"}`).sort();
    expect(outcomes).toEqual(["200 ok", ...Array(9).fill("401 Missing or invalid passport: already used")]);
    const ledger = await a.db.pointLedger.findMany({ where: { userId: user } });
    expect([ledger.length, (await a.db.user.findUnique({ where: { id: user } }))?.point]).toEqual([1, 10n]);
    // a read changes nothing: its passport may be used again within its expiry
    const read = signPassportFor(SECRET, { method: "GET", path: `/api/users/${user}/point` }, { userId: user });
    for (let i = 0; i < 2; i++) expect((await call(a.url, "GET", `/api/users/${user}/point`, { auth: read })).status).toBe(200);
  });

  /** What a hold's replayed passport must leave: the user's reservations, the seat's gate key, the user's lease key. */
  async function holdTraces(user: number, detail: number, seat: number) {
    const keys = seatGateKeys(a.config.redisKeyPrefix);
    const reservations = await a.db.reservation.findMany({ where: { userId: user }, select: { id: true, status: true } });
    return { reservations, gate: await a.redis.get(keys.seat(detail, seat)), lease: await a.redis.exists(keys.userHoldsLock(user)) };
  }
  const served = () => [
    ["the hot dispatch", a.url],
    ["Express", expressOnly.url],
  ];
  /** A new user's hold of `seatId` on a new concert, via one of the two paths, and the passport made for it (as captured off the wire). */
  async function capturedHold(via: string, seatId: number) {
    const url = served().find(([name]) => name === via)![1];
    const user = nextId();
    const { detailIds } = await newConcert(a.db);
    const made: PassportRequest = {
      method: "POST",
      path: "/api/reservations",
      body: { concertDetailId: detailIds[0], userId: user, seatId },
    };
    return { url, user, detail: detailIds[0], made, captured: signPassportFor(SECRET, made, { userId: user }) };
  }

  it.each(["the hot dispatch", "Express"])(
    "a hold's passport is good once (%s): sent again it is 401 PASSPORT_INVALID, one reservation, the gate key names it, no lease left",
    async (via) => {
      const { url, user, detail, made, captured } = await capturedHold(via, 4);
      const first = await call(url, made.method, made.path, { auth: captured, body: made.body, headers: { "idempotency-key": "hold-1" } });
      expect(first.status).toBe(201);
      // a retry under the hold's own Idempotency-Key too: the replayed passport is the answer
      for (const key of [undefined, "hold-1", "hold-2"]) {
        const again = await call(url, made.method, made.path, {
          auth: captured,
          body: made.body,
          headers: key ? { "idempotency-key": key } : {},
        });
        expect([again.status, again.body.error?.code, again.body.error?.message]).toEqual([
          401,
          "PASSPORT_INVALID",
          "Missing or invalid passport: already used",
        ]);
      }
      expect(await holdTraces(user, detail, 4)).toEqual({
        reservations: [{ id: first.body.result.reservationId, status: "HELD" }],
        gate: `r:${first.body.result.reservationId}`,
        lease: 0,
      });
    },
  );

  it.each(["the hot dispatch", "Express"])(
    "a hold's passport replayed after its hold was released (%s) is 401 PASSPORT_INVALID and holds nothing: no reservation, no gate key, no lease",
    async (via) => {
      const { url, user, detail, made, captured } = await capturedHold(via, 6);
      const first = await call(url, made.method, made.path, { auth: captured, body: made.body });
      expect(first.status).toBe(201);
      const id = first.body.result.reservationId;
      expect((await call(url, "DELETE", `/api/reservations/${id}`, { auth: passport({ userId: user }) })).status).toBe(200);
      // the seat is free again: only the passport's mark stops the replay before Postgres
      const again = await call(url, made.method, made.path, { auth: captured, body: made.body });
      expect([again.status, again.body.error?.code]).toEqual([401, "PASSPORT_INVALID"]);
      expect(await holdTraces(user, detail, 6)).toEqual({ reservations: [{ id, status: "EXPIRED" }], gate: null, lease: 0 });
    },
  );

  it.each(["the hot dispatch", "Express"])(
    "a hold's passport sent 10 times at once (%s) holds once: one 201, nine 401 PASSPORT_INVALID, one reservation, the gate key names it, no lease left",
    async (via) => {
      const { url, user, detail, made, captured } = await capturedHold(via, 5);
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => call(url, made.method, made.path, { auth: captured, body: made.body })),
      );
      const outcomes = replies.map((r) => `${r.status} ${r.body.error?.code ?? "ok"}`).sort();
      expect(outcomes).toEqual(["201 ok", ...Array(9).fill("401 PASSPORT_INVALID")]);
      const won = replies.find((r) => r.status === 201)!.body.result.reservationId;
      expect(await holdTraces(user, detail, 5)).toEqual({ reservations: [{ id: won, status: "HELD" }], gate: `r:${won}`, lease: 0 });
    },
  );

  it("a passport for one user with another user in the body or path is 403 TOKEN_USER_MISMATCH on every user route, and nothing changes", async () => {
    const [me, other] = [nextId(), nextId()];
    const { detailIds } = await newConcert(a.db, { seatPrice: 100 });
    await call(a.url, "PATCH", "/api/users/point", { body: { userId: other, point: 1_000 } });
    const hold = await call(a.url, "POST", "/api/reservations", { body: { concertDetailId: detailIds[0], userId: other, seatId: 1 } });
    const reservationId = hold.body.result.reservationId as number;
    const before = await snapshot(a.db, { userIds: [me, other], detailIds });
    const foreign: Route[] = [
      ["PATCH", "/api/users/point", { userId: other, point: 10 }],
      ["GET", `/api/users/${other}/point`],
      ["POST", "/api/reservations", { concertDetailId: detailIds[0], userId: other, seatId: 2 }],
      ["POST", "/api/payment", { userId: other, reservationId }],
    ];
    for (const [method, path, body] of foreign) {
      const r = await call(a.url, method, path, { auth: passport({ userId: me }), body });
      expect([method, path, r.status, r.body.error?.code]).toEqual([method, path, 403, "TOKEN_USER_MISMATCH"]);
    }
    expect(await snapshot(a.db, { userIds: [me, other], detailIds })).toEqual(before);
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
