import { once } from "node:events";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { RouteName } from "@concert/shared";
import { bearer, jwtEnv, mint, startJwks, testClock, testKey, type JwksServer, type TestKey } from "@concert/test-support";
import { ROUTE_TABLE } from "../src/api/route-table";
import { loadConfig } from "../src/config";
import { buildGateway, type Gateway } from "../src/gateway";
import { call, startFakeBooking, startGateway, uniqueName, type RunningGateway, capturedLogger, seatGateOf } from "./helpers";

type Booking = Awaited<ReturnType<typeof startFakeBooking>>;
type Options = { body?: unknown; rawBody?: string; headers?: Record<string, string> };

/** Every request that reached the gateway's Express app (its fallback and the rest): what the hot path left to it. */
function watchExpress(gateway: Gateway): string[] {
  const reached: string[] = [];
  const app = gateway.app as unknown as { handle: (req: IncomingMessage, res: ServerResponse, next?: unknown) => void };
  const handle = app.handle.bind(app);
  app.handle = (req, res, next) => {
    reached.push(`${req.method} ${req.url}`);
    handle(req, res, next);
  };
  return reached;
}

/** One raw HTTP/1.1 request (forms fetch will not send: chunked bodies, HEAD). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, chunks: string[] = []) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** The canonical request of each forwarded route (user 1; `token` is user 1's admitted queue token). */
function canonical(token: string): Partial<Record<RouteName, [string, string, Options]>> {
  return {
    holdSeat: ["POST", "/api/reservations", { body: { concertDetailId: 1, userId: 1, seatId: 7 }, headers: { token } }],
    chargePoints: ["PATCH", "/api/users/point", { body: { userId: 1, point: 500 } }],
    readPoints: ["GET", "/api/users/1/point", {}],
    pay: ["POST", "/api/payment", { body: { userId: 1, reservationId: 3 }, headers: { token, "idempotency-key": "pay-1" } }],
    cancelReservation: ["POST", "/api/reservations/3/cancel", { body: { userId: 1 }, headers: { "idempotency-key": "cancel-1" } }],
    myReservations: ["GET", "/api/users/1/reservations?limit=2", {}],
    releaseHold: ["DELETE", "/api/reservations/3", { headers: { token } }],
  };
}

// the read-model routes are answered on the hot path from booking's model, and handed to Express
// while it is not built (seat-map-reader.test.ts, hot-routes.test.ts)
const FORWARDED = ROUTE_TABLE.filter((r) => r.served === "booking" && r.readModel === undefined);

describe("forwarded booking routes on the hot path (plain node:http, the forward's own logic)", () => {
  let booking: Booking;
  let gw: RunningGateway;
  let express: string[];
  let token: string;
  const clock = testClock();

  beforeAll(async () => {
    booking = await startFakeBooking();
    gw = await startGateway({ BOOKING_URL: booking.url, QUEUE_ADMIT_BATCH: "5", QUEUE_TICK_MS: "10" }, { clock });
    express = watchExpress(gw.gateway);
    token = (await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } })).body.result.token;
    clock.advance(10); // a fresh tick slot
    await gw.gateway.ticker.runOnce();
  });
  afterAll(async () => {
    await gw.close();
    await booking.close();
  });
  beforeEach(() => {
    express.length = 0;
    booking.seen.length = 0;
  });

  it("serve the canonical form of every forwarded route without Express, sending booking the same request and passport", async () => {
    const requests = canonical(token);
    expect(FORWARDED.filter((r) => requests[r.name] === undefined).map((r) => r.name)).toEqual([]); // a new route needs a case here
    for (const route of FORWARDED) {
      const [method, path, options] = requests[route.name]!;
      const r = await call(gw.url, method, path, { ...options, headers: { ...options.headers, "x-request-id": `hot-${route.name}` } });
      expect([route.name, r.status, r.body]).toEqual([route.name, 200, { result: { echoed: true }, error: null }]);
      expect(r.headers.get("x-request-id")).toBe(`hot-${route.name}`);
      const seen = booking.seen.at(-1)!;
      expect([route.name, seen.method, seen.path, seen.body, seen.requestId]).toEqual([
        route.name,
        method,
        path,
        options.body, // none for a bodyless route
        `hot-${route.name}`,
      ]);
      expect(seen.passport).toMatchObject({ userId: 1, ...(route.access === "token" ? { queueToken: token } : {}) });
    }
    expect(booking.seen).toHaveLength(FORWARDED.length);
    expect(express).toEqual([]);
  });

  it("refuse on the hot path what the forward refuses, with Express's answers (no token, another user's hold, a taken seat)", async () => {
    const noToken = await call(gw.url, "DELETE", "/api/reservations/3", {});
    expect([noToken.status, noToken.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
    const otherUser = await call(gw.url, "POST", "/api/reservations", {
      body: { concertDetailId: 1, userId: 2, seatId: 7 },
      headers: { token },
    });
    expect([otherUser.status, otherUser.body.error.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
    const notJson = await call(gw.url, "PATCH", "/api/users/point", {
      rawBody: "{userId:1",
      headers: { "content-type": "application/json" },
    });
    expect([notJson.status, notJson.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const noUser = await call(gw.url, "PATCH", "/api/users/point", { body: { point: 5 } });
    expect([noUser.status, noUser.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const { redis, keys } = seatGateOf(gw);
    const seat = keys.seat(1, 9);
    await redis.set(seat, "r:1", "PX", 5000);
    try {
      const taken = await call(gw.url, "POST", "/api/reservations", {
        body: { concertDetailId: 1, userId: 1, seatId: 9 },
        headers: { token },
      });
      expect([taken.status, taken.body.error.code]).toEqual([409, "SEAT_UNAVAILABLE"]);
    } finally {
      await redis.del(seat);
    }
    expect(booking.seen).toEqual([]);
    expect(express).toEqual([]);
  });

  it("leave every other form to Express, which answers it as before", async () => {
    const json = { "content-type": "application/json" };
    const chunked = await raw(gw.url, "PATCH", "/api/users/point", { ...json, "transfer-encoding": "chunked" }, [
      '{"userId":1,',
      '"point":5}',
    ]);
    expect(chunked.status).toBe(200); // express.json read it: forwarded
    const wrongType = await call(gw.url, "PATCH", "/api/users/point", {
      rawBody: '{"userId":1,"point":5}',
      headers: { "content-type": "text/plain" },
    });
    expect(wrongType.status).toBe(400); // no JSON body: names no user
    const empty = await raw(gw.url, "POST", "/api/reservations/3/cancel", { ...json, "content-length": "0" });
    expect(empty.status).toBe(400);
    const deleteWithBody = await call(gw.url, "DELETE", "/api/reservations/3", { body: { userId: 1 }, headers: { token } });
    expect(deleteWithBody.status).toBe(200);
    const head = await raw(gw.url, "HEAD", "/api/users/1/point", {});
    expect([head.status, head.text]).toEqual([200, ""]);
    const put = await call(gw.url, "PUT", "/api/users/point", { body: { userId: 1, point: 5 } });
    expect([put.status, put.body.error.code, put.headers.get("allow")]).toEqual([405, "METHOD_NOT_ALLOWED", "PATCH, OPTIONS"]);
    const tooLarge = await call(gw.url, "GET", "/api/users/99999999999/point", {});
    expect([tooLarge.status, tooLarge.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const slash = await call(gw.url, "GET", "/api/users/1/point/", {});
    expect(slash.status).toBe(200);
    expect(express).toEqual([
      "PATCH /api/users/point",
      "PATCH /api/users/point",
      "POST /api/reservations/3/cancel",
      "DELETE /api/reservations/3",
      "HEAD /api/users/1/point",
      "PUT /api/users/point",
      "GET /api/users/99999999999/point",
      "GET /api/users/1/point/",
    ]);
    expect(booking.seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      "PATCH /api/users/point",
      "DELETE /api/reservations/3",
      "HEAD /api/users/1/point",
      "GET /api/users/1/point/",
    ]);
  });
});

describe("forwarded routes on the hot path, observed", () => {
  it("answer and log exactly as the same request through Express alone (but for time, latency and the passport)", async () => {
    const { logger, lines } = capturedLogger();
    // a hold answered 201 (the status the Forwarder wrote is the one logged and measured), a 409 of booking's
    const booking = await startFakeBooking((req) =>
      req.path === "/api/payment"
        ? { status: 409, body: { result: null, error: { code: "ALREADY_PAID", message: "paid" } } }
        : { status: req.method === "POST" ? 201 : 200, body: { result: { echoed: true }, error: null } },
    );
    const clock = testClock();
    const config = loadConfig({
      NODE_ENV: "test",
      QUEUE_NAME: uniqueName("gw-fwd-log"),
      PORT: "0",
      TOKEN_RATE_LIMIT: "0",
      HOLD_RATE_LIMIT: "0",
      MAX_HOLDS_PER_CLIENT: "0",
      BOOKING_URL: booking.url,
      QUEUE_ADMIT_BATCH: "5",
      QUEUE_TICK_MS: "10",
    });
    const gateway = await buildGateway(config, logger, { clock: clock.now });
    const express = watchExpress(gateway);
    // the same gateway twice: its full handler (hot routes first) and its Express app alone
    const hotServer = createServer(gateway.handler).listen(0, "127.0.0.1");
    const expressServer = createServer(gateway.app).listen(0, "127.0.0.1");
    await Promise.all([once(hotServer, "listening"), once(expressServer, "listening")]);
    const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const token = (await call(urlOf(hotServer), "POST", "/api/users/token", { body: { userId: 1 } })).body.result.token as string;
      clock.advance(10);
      await gateway.ticker.runOnce();
      const cases = [
        ...Object.values(canonical(token)),
        ["GET", "/api/reservations/3", {}], // 405
        ["POST", "/api/payment", { body: { userId: 2, reservationId: 3 }, headers: { token } }], // 403, the token's user logged
      ] as [string, string, Options][];
      for (const [method, path, options] of cases) {
        const answerOf = async (url: string) => {
          lines.length = 0;
          const r = await call(url, method, path, { ...options, headers: { ...options.headers, "x-request-id": "log-1" } });
          const requestLines = lines.filter((l) => l.msg === "request completed");
          expect(requestLines).toHaveLength(1);
          const { time, ms, ...line } = requestLines[0];
          expect([typeof time, typeof ms]).toEqual(["string", "number"]);
          const headers = ["content-type", "x-request-id", "retry-after", "location", "allow"].map((h) => r.headers.get(h));
          return { status: r.status, body: r.body, headers, line };
        };
        const hot = await answerOf(urlOf(hotServer));
        const viaExpress = await answerOf(urlOf(expressServer));
        expect({ method, path, ...hot }).toEqual({ method, path, ...viaExpress });
      }
      expect(express.filter((e) => e !== "GET /api/reservations/3")).toHaveLength(cases.length - 1); // the Express server's own
      const statuses = await (await fetch(`${urlOf(hotServer)}/metrics`)).text();
      expect(statuses).toMatch(/http_request_duration_seconds_count\{[^}]*method="POST",route="\/api\/reservations",status="201"\} 2/);
      expect(statuses).toMatch(/http_request_duration_seconds_count\{[^}]*method="POST",route="\/api\/payment",status="409"\} 2/);
    } finally {
      hotServer.closeAllConnections();
      expressServer.closeAllConnections();
      await Promise.all([new Promise((r) => hotServer.close(r)), new Promise((r) => expressServer.close(r))]);
      await gateway.close();
      await booking.close();
    }
  });
});

describe("AUTH_MODE=jwt: forwarded routes on the hot path", () => {
  let key: TestKey;
  let jwks: JwksServer;
  let booking: Booking;
  let gw: RunningGateway;
  let express: string[];

  beforeAll(async () => {
    key = await testKey("a", "RS256");
    jwks = await startJwks([key]);
    booking = await startFakeBooking();
    gw = await startGateway({ ...jwtEnv(jwks), BOOKING_URL: booking.url });
    express = watchExpress(gw.gateway);
  });
  afterAll(async () => {
    await gw.close();
    await booking.close();
    await jwks.close();
  });
  beforeEach(() => {
    express.length = 0;
    booking.seen.length = 0;
  });

  it("check the bearer and bind the named user as the identity step does; `me` stays Express's", async () => {
    const headers = bearer(await mint(key, "41"));
    // the body names nobody: the verified user, sent on to booking and vouched for
    const charged = await call(gw.url, "PATCH", "/api/users/point", { body: { point: 5 }, headers });
    expect(charged.status).toBe(200);
    expect(booking.seen[0]).toMatchObject({ body: { point: 5, userId: 41 }, passport: { userId: 41 } });
    const read = await call(gw.url, "GET", "/api/users/41/point", { headers });
    expect(read.status).toBe(200);
    const other = await call(gw.url, "GET", "/api/users/42/point", { headers });
    expect([other.status, other.body.error.code]).toEqual([403, "USER_MISMATCH"]);
    const otherBody = await call(gw.url, "PATCH", "/api/users/point", { body: { userId: 42, point: 5 }, headers });
    expect([otherBody.status, otherBody.body.error.code]).toEqual([403, "USER_MISMATCH"]);
    const anonymous = await call(gw.url, "GET", "/api/users/41/point", {});
    expect([anonymous.status, anonymous.body.error.code]).toEqual([401, "AUTH_REQUIRED"]);
    expect(express).toEqual([]);
    const me = await call(gw.url, "GET", "/api/users/me/point?x=1", { headers });
    expect(me.status).toBe(200);
    expect(express).toEqual(["GET /api/users/me/point?x=1"]);
    expect(booking.seen.map((s) => [s.path, s.passport.userId])).toEqual([
      ["/api/users/point", 41],
      ["/api/users/41/point", 41],
      ["/api/users/41/point?x=1", 41],
    ]);
  });
});

describe("the Forwarder's copy of booking's answer", () => {
  /** A booking stand-in that answers every request with `write` (status, headers, body in pieces). */
  async function rawBooking(write: (res: ServerResponse) => void) {
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => write(res));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => {
        server.closeAllConnections();
        return new Promise((r) => server.close(r));
      },
    };
  }

  it("passes on an answer that came in several chunks whole, with its status, Location and Retry-After", async () => {
    const booking = await rawBooking((res) => {
      res.writeHead(201, { "content-type": "application/json", location: "/api/reservations/9", "retry-after": "3", "x-other": "no" });
      res.write('{"result":{"reservationId":');
      setImmediate(() => res.end('9},"error":null}'));
    });
    const gw = await startGateway({ BOOKING_URL: booking.url });
    try {
      const r = await call(gw.url, "PATCH", "/api/users/point", { body: { userId: 1, point: 5 } });
      expect([r.status, r.body]).toEqual([201, { result: { reservationId: 9 }, error: null }]);
      expect(["location", "retry-after", "x-other"].map((h) => r.headers.get(h))).toEqual(["/api/reservations/9", "3", null]);
    } finally {
      await gw.close();
      await booking.close();
    }
  });

  it("answers 503 with Retry-After when booking stops in the middle of its answer", async () => {
    const booking = await rawBooking((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"result":'); // and nothing more
    });
    const gw = await startGateway({ BOOKING_URL: booking.url, BOOKING_TIMEOUT_MS: "200" });
    try {
      const r = await call(gw.url, "GET", "/api/users/1/point", {});
      expect([r.status, r.body.error.code, r.headers.get("retry-after")]).toEqual([503, "SERVICE_UNAVAILABLE", "2"]);
    } finally {
      await gw.close();
      await booking.close();
    }
  });
});
