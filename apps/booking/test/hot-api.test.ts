import { request as httpRequest, createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { PASSPORT_HEADER } from "@concert/shared";
import { signPassportFor } from "@concert/test-support";
import pino from "pino";
import { call, newConcert, nextId, passport, reserveIdBlock, startBooking, SECRET, type Booking, type Reply } from "./support/booking";

reserveIdBlock();

// One booking app behind two servers: `hot` serves it as main.ts does (the hot dispatch first,
// Express for what it leaves), recording what reached Express; `plain` is Express alone, the
// answers as they were before the hot dispatch.
let a: Booking;
let hot: string;
let plain: string;
const servers: Server[] = [];
const reachedExpress: string[] = [];
const logLines: Record<string, unknown>[] = [];

async function listen(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  a = await startBooking({ logger: pino({ level: "info", base: { app: "booking" } }, sink) });
  hot = await listen(
    createServer((req, res) => {
      if (a.app.hotApi(req, res)) return;
      reachedExpress.push(`${req.method} ${req.url}`);
      a.app(req, res);
    }),
  );
  plain = await listen(createServer(a.app));
});
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
  await a?.close();
});
beforeEach(() => {
  reachedExpress.length = 0;
});

/** What must be the same from both servers: status, error code, the result's fields, the headers that matter. */
function shape(r: Reply) {
  const result = (r.body?.result ?? null) as Record<string, unknown> | unknown[] | null;
  return {
    status: r.status,
    code: r.body?.error?.code ?? null,
    result: result === null ? null : Array.isArray(result) ? "list" : Object.keys(result).sort(),
    contentType: r.headers.get("content-type"),
    retryAfter: r.headers.get("retry-after"),
    etag: r.headers.get("etag"),
    // the caller's id echoed, else a new one
    requestId: r.headers.get("x-request-id") === "hot-test" ? "echoed" : /^[0-9a-f-]{36}$/.test(r.headers.get("x-request-id") ?? ""),
  };
}

/** A purchase and everything around it, as one user on a fresh concert: each route's canonical form once. */
async function purchase(base: string) {
  const user = nextId();
  const { concertId, detailIds } = await newConcert(a.db, { seatPrice: 100 });
  const auth = passport({ userId: user });
  const headers = { "x-request-id": "hot-test" };
  const replies: [string, Reply][] = [];
  const step = async (name: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}) => {
    const r = await call(base, method, path, { auth, body, headers: { ...headers, ...extra } });
    replies.push([name, r]);
    return r;
  };
  await step("charge", "PATCH", "/api/users/point", { userId: user, point: 1_000 });
  await step("balance", "GET", `/api/users/${user}/point`);
  await step("dates", "GET", `/api/concert/${concertId}/date`);
  await step("seats", "GET", `/api/concert/${detailIds[0]}/seat`);
  const released = await step("hold to release", "POST", "/api/reservations", { concertDetailId: detailIds[0], userId: user, seatId: 2 });
  await step("release", "DELETE", `/api/reservations/${released.body.result.reservationId}`);
  const held = await step(
    "hold",
    "POST",
    "/api/reservations",
    { concertDetailId: detailIds[0], userId: user, seatId: 1 },
    { "idempotency-key": "k-1" },
  );
  await step("pay", "POST", "/api/payment", { userId: user, reservationId: held.body.result.reservationId });
  await step("tickets", "GET", `/api/users/${user}/reservations?limit=5`);
  await step("cancel", "POST", `/api/reservations/${held.body.result.reservationId}/cancel`, { userId: user });
  await step("balance after", "GET", `/api/users/${user}/point`);
  return { user, replies };
}

describe("booking's hot dispatch", () => {
  it("serves every route's canonical form without Express, answering as Express does", async () => {
    const viaHot = await purchase(hot);
    expect(reachedExpress).toEqual([]);
    const viaExpress = await purchase(plain);
    expect(viaHot.replies.map(([n, r]) => [n, shape(r)])).toEqual(viaExpress.replies.map(([n, r]) => [n, shape(r)]));
    expect(viaHot.replies.map(([n, r]) => [n, r.status])).toEqual([
      ["charge", 200],
      ["balance", 200],
      ["dates", 200],
      ["seats", 200],
      ["hold to release", 201],
      ["release", 200],
      ["hold", 201],
      ["pay", 200],
      ["tickets", 200],
      ["cancel", 200],
      ["balance after", 200],
    ]);
    // the same balances, not only the same shapes (a full refund: back to 1000)
    const balances = (r: typeof viaHot) => r.replies.filter(([n]) => n.startsWith("balance")).map(([, x]) => x.body.result.point);
    expect(balances(viaHot)).toEqual([1_000, 1_000]);
    expect(balances(viaExpress)).toEqual([1_000, 1_000]);
  });

  it("leaves every other form to Express, which answers as before", async () => {
    const user = nextId();
    const odd: [method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }][] = [
      ["GET", `/api/users/${user}/point/`], // a trailing slash (Express's non-strict routing)
      ["GET", `/api/USERS/${user}/point`], // another case
      ["GET", "/api/users/99999999999/point"], // an id out of range: Express's 400
      ["GET", "/api/users/007/point"], // not an id as the gateway writes one
      ["HEAD", `/api/users/${user}/point`],
      ["PATCH", "/api/users/point", { body: { userId: user, point: 5 }, headers: { "content-type": "text/plain" } }],
      ["PATCH", "/api/users/point", { body: { userId: user, point: 5 }, headers: { "content-type": "application/json; charset=latin1" } }],
      ["GET", "/api/nowhere"],
      ["POST", "/api/users/point", { body: { userId: user, point: 5 } }], // a method the path does not serve
      ["GET", "/health"],
    ];
    for (const [method, path, options] of odd) {
      reachedExpress.length = 0;
      const viaHot = await call(hot, method, path, options);
      expect(reachedExpress).toEqual([`${method} ${path}`]);
      const viaExpress = await call(plain, method, path, options);
      expect([method, path, shape(viaHot)]).toEqual([method, path, shape(viaExpress)]);
    }
  });

  it("leaves a chunked body (no Content-Length) and one past the limit to Express", async () => {
    const user = nextId();
    const body = JSON.stringify({ userId: user, point: 5 });
    const signed = signPassportFor(
      SECRET,
      { method: "PATCH", path: "/api/users/point", body: { userId: user, point: 5 } },
      { userId: user },
    );
    const chunked = await rawRequest(
      hot,
      "PATCH",
      "/api/users/point",
      { "content-type": "application/json", [PASSPORT_HEADER]: signed },
      body,
    );
    expect(reachedExpress).toEqual(["PATCH /api/users/point"]);
    expect(chunked.status).toBe(200); // express.json reads a chunked body, and it is the one the passport was made for

    reachedExpress.length = 0;
    const big = { userId: user, point: 5, pad: "x".repeat(17_000) };
    const tooLarge = await call(hot, "PATCH", "/api/users/point", { body: big });
    expect(reachedExpress).toEqual(["PATCH /api/users/point"]);
    expect([tooLarge.status, tooLarge.body.error?.code]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
  });

  it("refuses a bad, reused or another user's passport and a body that is not JSON exactly as Express does, without Express", async () => {
    const refusals = async (base: string) => {
      const user = nextId();
      const charge = { userId: user, point: 10 };
      const out: [string, ReturnType<typeof shape>][] = [];
      const run = async (name: string, method: string, path: string, options: Parameters<typeof call>[3]) => {
        out.push([name, shape(await call(base, method, path, options))]);
      };
      await run("no passport, read", "GET", `/api/users/${user}/point`, { auth: false });
      await run("no passport, write", "PATCH", "/api/users/point", { body: charge, auth: false });
      await run("garbage", "GET", `/api/users/${user}/point`, { auth: "v2.abc" });
      await run("another secret", "PATCH", "/api/users/point", {
        body: charge,
        auth: passport({ userId: user }, "another-secret-of-16-chars"),
      });
      await run("expired", "GET", `/api/users/${user}/point`, { auth: passport({ userId: user, exp: Date.now() - 1 }) });
      const once = signPassportFor(SECRET, { method: "PATCH", path: "/api/users/point", body: charge }, { userId: user });
      await run("first use", "PATCH", "/api/users/point", { body: charge, auth: once });
      await run("reused", "PATCH", "/api/users/point", { body: charge, auth: once });
      await run("made for another path", "GET", `/api/users/${user}/point`, { auth: once });
      await run("another user, path", "GET", `/api/users/${user}/point`, { auth: passport({ userId: user + 1 }) });
      await run("another user, body", "PATCH", "/api/users/point", { body: charge, auth: passport({ userId: user + 1 }) });
      await run("not JSON", "PATCH", "/api/users/point", { body: "{not json", auth: passport({ userId: user }) });
      await run("not an object", "PATCH", "/api/users/point", { body: '"text"', auth: passport({ userId: user }) });
      await run("invalid body", "PATCH", "/api/users/point", { body: { userId: user, point: -1 } });
      await run("hold without a body field", "POST", "/api/reservations", { body: { userId: user } });
      return out;
    };
    const viaHot = await refusals(hot);
    expect(reachedExpress).toEqual([]);
    const viaExpress = await refusals(plain);
    expect(viaHot).toEqual(viaExpress);
    expect(viaHot.map(([n, s]) => [n, s.status, s.code])).toEqual([
      ["no passport, read", 401, "PASSPORT_INVALID"],
      ["no passport, write", 401, "PASSPORT_INVALID"],
      ["garbage", 401, "PASSPORT_INVALID"],
      ["another secret", 401, "PASSPORT_INVALID"],
      ["expired", 401, "PASSPORT_INVALID"],
      ["first use", 200, null],
      ["reused", 401, "PASSPORT_INVALID"],
      ["made for another path", 401, "PASSPORT_INVALID"],
      ["another user, path", 403, "TOKEN_USER_MISMATCH"],
      ["another user, body", 403, "TOKEN_USER_MISMATCH"],
      ["not JSON", 400, "VALIDATION_FAILED"],
      ["not an object", 400, "VALIDATION_FAILED"],
      ["invalid body", 400, "VALIDATION_FAILED"],
      ["hold without a body field", 400, "VALIDATION_FAILED"],
    ]);
  });

  it("writes the log line and the histogram as Express does, and counts hold and payment outcomes", async () => {
    const requestsLogged = async (base: string, reqId: string) => {
      const user = nextId();
      const { detailIds } = await newConcert(a.db, { seatPrice: 100 });
      const auth = passport({ userId: user });
      const headers = { "x-request-id": reqId };
      await call(base, "GET", `/api/users/${user}/point`, { auth, headers });
      await call(base, "GET", `/api/users/${user}/point`, { auth: false, headers });
      const held = await call(base, "POST", "/api/reservations", {
        auth,
        headers,
        body: { concertDetailId: detailIds[0], userId: user, seatId: 1 },
      });
      await call(base, "POST", "/api/reservations", {
        auth,
        headers,
        body: { concertDetailId: detailIds[0], userId: user + 1, seatId: 2 },
      });
      await call(base, "POST", "/api/payment", { auth, headers, body: { userId: user, reservationId: held.body.result.reservationId } });
      return logLines
        .filter((l) => l.reqId === reqId)
        .map((l): Record<string, unknown> => ({
          ...l,
          time: undefined,
          ms: typeof l.ms,
          userId: l.userId === user ? "user" : l.userId,
          url: String(l.url).replace(String(user), "U"),
        }));
    };
    const before = await metricsText();
    const viaHot = await requestsLogged(hot, "log-hot");
    expect(reachedExpress).toEqual([]);
    const afterHot = await metricsText();
    const viaExpress = await requestsLogged(plain, "log-plain");
    const afterExpress = await metricsText();

    expect(viaHot.map((l) => ({ ...l, reqId: undefined }))).toEqual(viaExpress.map((l) => ({ ...l, reqId: undefined })));
    expect(viaHot.map((l) => [l.route, l.status, l.userId, l.msg])).toEqual([
      ["/api/users/:userId/point", 200, "user", "request completed"],
      ["unmatched", 401, undefined, "request completed"], // refused before the router, as Express labels it
      ["/api/reservations", 201, "user", "request completed"],
      ["/api/reservations", 403, "user", "request completed"],
      ["/api/payment", 409, "user", "request completed"],
    ]);
    // each server's requests moved the same series by the same amounts
    const series: [string, Record<string, string>][] = [
      ["http_request_duration_seconds_count", { method: "GET", route: "/api/users/:userId/point", status: "200" }],
      ["http_request_duration_seconds_count", { method: "GET", route: "unmatched", status: "401" }],
      ["http_request_duration_seconds_count", { method: "POST", route: "/api/reservations", status: "201" }],
      ["holds_created_total", {}],
      ["holds_refused_total", { code: "TOKEN_USER_MISMATCH" }],
      ["payments_total", { outcome: "INSUFFICIENT_POINTS" }],
    ];
    const moved = (from: string, to: string) => series.map(([name, labels]) => sample(to, name, labels) - sample(from, name, labels));
    expect(moved(before, afterHot)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(moved(afterHot, afterExpress)).toEqual([1, 1, 1, 1, 1, 1]);
  });
});

async function metricsText(): Promise<string> {
  return (await fetch(`${plain}/metrics`)).text();
}

/** A sample's value (0 when absent) on the line with exactly these labels, in any order. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries({ app: "booking", ...labels }).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2].split(",");
    if (have.length === wanted.length && wanted.every((l) => have.includes(l))) return Number(m[3]);
  }
  return 0;
}

/** One request with a chunked body (no Content-Length), as node:http sends a body written in parts. */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body: string) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers }, (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on("error", reject);
    req.write(body.slice(0, 5));
    req.end(body.slice(5));
  });
}
