import { once } from "node:events";
import { get } from "node:http";
import { connect, type Socket } from "node:net";
import { until } from "@concert/test-support";
import { call } from "./support/client";
import { snapshot } from "./support/database";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { rawHttp } from "./support/raw";

// Issue 12 items 2 and 11: one client holding streams and connections, and wrong methods.
const PER_TOKEN = 3;
const PER_CLIENT = 10;
const INSTANCE = 5;
const HEADERS_MS = 1_500;
const REQUEST_MS = 3_000;
const IDLE_CONNECTIONS = 300;

interface Opened {
  status: number;
  retryAfter: string | undefined;
  code: string | undefined;
  close(): void;
}

/** Opens a stream (or reads its refusal) and resolves at the answer's headers. */
function openStream(base: string, userId: number, token: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}/api/queue/stream?userId=${userId}&token=${token}`, { agent: false }, (res) => {
      const close = () => req.destroy();
      const retryAfter = res.headers["retry-after"];
      if ((res.headers["content-type"] ?? "").startsWith("text/event-stream")) {
        res.resume();
        return resolve({ status: res.statusCode!, retryAfter, code: undefined, close });
      }
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, retryAfter, code: JSON.parse(text).error?.code, close }));
    });
    req.on("error", reject);
  });
}

const count = (all: Opened[], status: number) => all.filter((o) => o.status === status).length;

/** A connection that sends `first` (or nothing) and resolves how long after opening the server closed it. */
function holdConnection(port: number, first = ""): { socket: Socket; closedAfter: Promise<number>; text: () => string } {
  const socket = connect(port, "127.0.0.1");
  const started = Date.now();
  let text = "";
  socket.on("data", (d) => (text += d.toString()));
  socket.on("error", () => {});
  if (first) socket.write(first);
  return { socket, closedAfter: once(socket, "close").then(() => Date.now() - started), text: () => text };
}

describe("system: hardening, streams and connections", () => {
  let sys: System;
  let gw: string;
  beforeAll(async () => {
    const http = { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS) };
    sys = await startSystem({
      tag: "hardening_streams",
      bookings: 1,
      gateways: 1,
      // no admission: every stream stays WAITING (an admitted token's stream ends at once and frees its slot)
      gatewayEnv: { ...http, SSE_MAX_PER_TOKEN: String(PER_TOKEN), SSE_MAX_PER_CLIENT: String(PER_CLIENT), ADMISSION_ENABLED: "false" },
      bookingEnv: http,
    });
    gw = sys.gateways[0].url;
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  const join = async (base: string, userId: number) =>
    (await call(base, "POST", "/api/users/token", { body: { userId } })).body.result.token as string;

  it("caps streams per token, per client and per instance, cuts idle and slow connections, and answers 405; nothing else changes", async () => {
    const before = await snapshot(sys.db.pool);

    // per token: PER_TOKEN + 5 streams of one waiting token, all at once
    const [u] = sys.userIds(1);
    const token = await join(gw, u);
    const oneToken = await Promise.all(Array.from({ length: PER_TOKEN + 5 }, () => openStream(gw, u, token)));
    expect([count(oneToken, 200), count(oneToken, 429)]).toEqual([PER_TOKEN, 5]);
    expect(oneToken.filter((o) => o.status === 429).every((o) => o.code === "RATE_LIMITED" && Number(o.retryAfter) >= 1)).toBe(true);
    oneToken.forEach((o) => o.close());

    // per client: every stream comes from 127.0.0.1
    const users = sys.userIds(PER_CLIENT + 4);
    const tokens = await Promise.all(users.map((id) => join(gw, id)));
    // the streams closed above have released their slots (/metrics needs the harness's METRICS_TOKEN)
    const drained = await until(
      async () => String((await call(gw, "GET", "/metrics", { headers: { authorization: `Bearer ${sys.metricsToken}` } })).body),
      (m) => /^queue_sse_streams\{[^}]*\} 0$/m.test(m),
    );
    expect(drained).toMatch(/^queue_sse_streams\{[^}]*\} 0$/m);
    const oneClient = await Promise.all(users.map((id, i) => openStream(gw, id, tokens[i])));
    expect([count(oneClient, 200), count(oneClient, 429)]).toEqual([PER_CLIENT, 4]);
    oneClient.forEach((o) => o.close());

    // per instance: a gateway with room for INSTANCE streams keeps answering /health and issues when full
    const small = await sys.addGateway("gateway-small", { SSE_MAX_STREAMS: String(INSTANCE), SSE_MAX_PER_CLIENT: "1000" });
    const more = sys.userIds(INSTANCE + 3);
    const moreTokens = await Promise.all(more.map((id) => join(small.url, id)));
    const full = await Promise.all(more.map((id, i) => openStream(small.url, id, moreTokens[i])));
    expect([count(full, 200), count(full, 503)]).toEqual([INSTANCE, 3]);
    expect(full.filter((o) => o.status === 503).every((o) => o.code === "SERVICE_UNAVAILABLE" && Number(o.retryAfter) >= 1)).toBe(true);
    const healthStarted = Date.now();
    expect((await call(small.url, "GET", "/health")).status).toBe(200);
    const healthWhenFullMs = Date.now() - healthStarted;
    expect((await call(small.url, "POST", "/api/users/token", { body: { userId: sys.userIds(1)[0] } })).status).toBe(200);
    full.forEach((o) => o.close());

    // idle zero-byte connections on both apps: closed within the header timeout; /health answers meanwhile
    const targets = [sys.gateways[0], sys.bookings[0]];
    const idle = targets.flatMap((app) => Array.from({ length: IDLE_CONNECTIONS / 2 }, () => holdConnection(app.port)));
    const healthMs: number[] = [];
    for (const app of targets) {
      const t = Date.now();
      expect((await call(app.url, "GET", "/health")).status).toBe(200);
      healthMs.push(Date.now() - t);
    }
    const idleClosed = await Promise.all(idle.map((c) => c.closedAfter));
    const idleMax = Math.max(...idleClosed);
    expect(idleMax).toBeLessThan(HEADERS_MS + 1_500);

    // a body one byte every 300 ms on both apps: 408 at the request timeout
    const slow = targets.map((app) => {
      const c = holdConnection(
        app.port,
        "PATCH /api/users/point HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
      );
      const timer = setInterval(() => !c.socket.destroyed && c.socket.write(" "), 300);
      void c.closedAfter.then(() => clearInterval(timer));
      return c;
    });
    const slowClosed = await Promise.all(slow.map((c) => c.closedAfter));
    expect(slowClosed.every((ms) => ms >= REQUEST_MS - 100 && ms < REQUEST_MS + 2_000)).toBe(true);
    expect(slow.map((c) => /^HTTP\/1\.1 (\d{3})/.exec(c.text())?.[1])).toEqual(["408", "408"]);

    // wrong methods on known paths: 405 with Allow, OPTIONS 204
    const put = await rawHttp(sys.gateways[0].port, "PUT /api/reservations HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n");
    expect([put.status, /^allow: (.*)$/im.exec(put.headers)?.[1].trim(), put.body?.error?.code]).toEqual([
      405,
      "POST, OPTIONS",
      "METHOD_NOT_ALLOWED",
    ]);
    const options = await rawHttp(sys.gateways[0].port, "OPTIONS /api/users/1/token HTTP/1.1\r\nhost: x\r\n\r\n", 1_000);
    expect([options.status, /^allow: (.*)$/im.exec(options.headers)?.[1].trim()]).toEqual([204, "GET, HEAD, OPTIONS"]);

    expect(await snapshot(sys.db.pool)).toEqual(before);
    const inv = await sys.invariants();
    expect(inv.violations).toEqual([]);
    report(
      `hardening-streams: ${PER_TOKEN + 5} streams on one token → ${count(oneToken, 200)} open, ${count(oneToken, 429)}×429; ` +
        `${users.length} on one client → ${count(oneClient, 200)} open, ${count(oneClient, 429)}×429; ` +
        `instance cap ${INSTANCE}: ${count(full, 200)} open, ${count(full, 503)}×503, /health ${healthWhenFullMs} ms when full; ` +
        `${IDLE_CONNECTIONS} idle zero-byte connections all closed by ${idleMax} ms (header timeout ${HEADERS_MS}), /health ${healthMs.join("/")} ms meanwhile; ` +
        `slow bodies cut at ${slowClosed.join("/")} ms (request timeout ${REQUEST_MS}) with 408; PUT → 405, OPTIONS → 204; ${invariantText(inv)}`,
    );
  }, 60_000);
});
