import { once } from "node:events";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { loadConfig } from "../src/config";
import { buildGateway } from "../src/gateway";
import { call, startGateway, uniqueName, type RunningGateway, capturedLogger } from "./helpers";

/** One raw HTTP/1.1 request (for bodies fetch will not send: chunked, odd types, lying lengths). */
function raw(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  chunks: string[] = [],
): Promise<{ status: number; headers: Record<string, unknown>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

/** The two hot queue routes are served outside Express (api/hot-routes.ts); their answers must not change. */
describe("hot queue routes (plain node:http in front of Express)", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw.close();
  });

  it("answer a poll exactly as the Express route does (a trailing slash takes the Express path)", async () => {
    const issued = await call(gw.url, "POST", "/api/users/token", { body: { userId: 7001 } });
    expect(issued.status).toBe(200);
    const token = issued.body.result.token as string;
    const cases: [string, Record<string, string>][] = [
      ["/api/users/7001/token", { token }],
      ["/api/users/7001/token", {}],
      ["/api/users/7001/token", { token: "not-a-uuid" }],
      ["/api/users/7001/token", { token: token.toUpperCase() }],
      ["/api/users/7002/token", { token }],
      ["/api/users/7001/token", { token: "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e" }],
    ];
    for (const [path, headers] of cases) {
      const hot = await call(gw.url, "GET", path, { headers: { ...headers, "x-request-id": "hot-1" } });
      const viaExpress = await call(gw.url, "GET", `${path}/`, { headers: { ...headers, "x-request-id": "hot-1" } });
      expect({ path, headers, status: hot.status, body: hot.body }).toEqual({
        path,
        headers,
        status: viaExpress.status,
        body: viaExpress.body,
      });
      expect(hot.headers.get("content-type")).toBe(viaExpress.headers.get("content-type"));
      expect(hot.headers.get("x-request-id")).toBe("hot-1");
    }
    // the refused polls changed nothing: one user waits, still first
    expect((await gw.gateway.store.counts()).waiting).toBe(1);
    // and a poll of a waiting user is a real answer, not an error
    const me = await call(gw.url, "GET", "/api/users/7001/token", { headers: { token } });
    expect(me.body).toEqual({
      result: { token, status: "WAITING", rank: 1, estimatedWaitSec: expect.any(Number), concertId: null },
      error: null,
    });
    expect(me.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("leave ids Express must judge (too large, not canonical) to Express, which answers 400", async () => {
    for (const id of ["99999999999", "2147483648", "0", "01"]) {
      const r = await call(gw.url, "GET", `/api/users/${id}/token`, { headers: { token: "6f1c3b1e-8d7a-4a3c-9d2e-1f0a9b8c7d6e" } });
      expect({ id, status: r.status, code: r.body.error.code }).toEqual({ id, status: 400, code: "VALIDATION_FAILED" });
    }
  });

  it("take a plain JSON issue, and answer bad bodies with the same 4xx as express.json", async () => {
    const json = { "content-type": "application/json" };
    const ok = await raw(gw.url, "POST", "/api/users/token", { ...json, "content-length": "15" }, ['{"userId":7101}']);
    expect(ok.status).toBe(200);
    expect(ok.body.result).toMatchObject({ status: "WAITING", rank: expect.any(Number) });

    const cases: [string, Record<string, string>, string[], number, string][] = [
      ["not JSON", { ...json }, ["{userId:1}"], 400, "VALIDATION_FAILED"],
      ["a JSON string, not an object (strict)", { ...json }, ['"x"'], 400, "VALIDATION_FAILED"],
      ["empty body", { ...json }, [], 400, "VALIDATION_FAILED"],
      ["unknown field", { ...json }, ['{"userId":1,"x":2}'], 400, "VALIDATION_FAILED"],
      ["id as a string", { ...json }, ['{"userId":"1"}'], 400, "VALIDATION_FAILED"],
      ["over 16 kB", { ...json }, [`{"userId":1,"pad":"${"x".repeat(17_000)}"}`], 413, "PAYLOAD_TOO_LARGE"],
      [
        "a charset express.json refuses (Express path)",
        { "content-type": "application/json; charset=latin1" },
        ['{"userId":1}'],
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
      [
        "an unknown content encoding (Express path)",
        { ...json, "content-encoding": "br2" },
        ['{"userId":1}'],
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      ],
    ];
    for (const [what, headers, chunks, status, code] of cases) {
      const body = chunks.join("");
      const r = await raw(gw.url, "POST", "/api/users/token", { ...headers, "content-length": String(Buffer.byteLength(body)) }, chunks);
      expect({ what, status: r.status, code: r.body.error?.code, result: r.body.result }).toEqual({ what, status, code, result: null });
    }
    // a chunked body (no Content-Length) goes to Express and is served the same
    const chunked = await raw(gw.url, "POST", "/api/users/token", { ...json, "transfer-encoding": "chunked" }, ['{"user', 'Id":7102}']);
    expect(chunked.status).toBe(200);
    expect(chunked.body.result).toMatchObject({ status: "WAITING", rank: ok.body.result.rank + 1 });
    // none of the refused requests queued anyone
    expect((await gw.gateway.store.counts()).waiting).toBe(3);
  });
});

/** Requests to a fresh gateway, so every count and log line below is one these tests caused. */
describe("hot queue routes, observed", () => {
  /** The counts of http_request_duration_seconds by "METHOD route status" in a /metrics text. */
  function requestCounts(text: string): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^http_request_duration_seconds_count\{[^}]*method="(\w+)",route="([^"]+)",status="(\d+)"\} (\d+)$/gm)) {
      counts[`${m[1]} ${m[2]} ${m[3]}`] = Number(m[4]);
    }
    return counts;
  }

  it("are measured under their route patterns in /metrics, the same label as their Express form", async () => {
    const gw = await startGateway();
    try {
      const a = await call(gw.url, "POST", "/api/users/token", { body: { userId: 7201 } });
      await call(gw.url, "POST", "/api/users/token", { body: { userId: 7202 } });
      expect(
        (await call(gw.url, "POST", "/api/users/token", { rawBody: "{userId:1}", headers: { "content-type": "application/json" } })).status,
      ).toBe(400);
      const token = a.body.result.token as string;
      for (let i = 0; i < 3; i++) expect((await call(gw.url, "GET", "/api/users/7201/token", { headers: { token } })).status).toBe(200);
      expect((await call(gw.url, "GET", "/api/users/7201/token/", { headers: { token } })).status).toBe(200); // Express
      expect((await call(gw.url, "GET", "/api/users/7201/token", {})).status).toBe(401);

      const counts = requestCounts(await (await fetch(`${gw.url}/metrics`)).text());
      expect(counts).toEqual({
        "POST /api/users/token 200": 2,
        "POST /api/users/token 400": 1,
        "GET /api/users/:userId/token 200": 4,
        "GET /api/users/:userId/token 401": 1,
      });
    } finally {
      await gw.close();
    }
  });

  it("log the same line as the same request through Express (but for time and latency), at debug for a successful poll", async () => {
    const { logger, lines } = capturedLogger();
    const config = loadConfig({ NODE_ENV: "test", QUEUE_NAME: uniqueName("gw-log"), PORT: "0", TOKEN_RATE_LIMIT: "0" });
    const gateway = await buildGateway(config, logger);
    // the same gateway twice: its full handler (hot routes first) and its Express app alone
    const hotServer = createServer(gateway.handler).listen(0, "127.0.0.1");
    const expressServer = createServer(gateway.app).listen(0, "127.0.0.1");
    await Promise.all([once(hotServer, "listening"), once(expressServer, "listening")]);
    const urlOf = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    try {
      const issued = await call(urlOf(hotServer), "POST", "/api/users/token", { body: { userId: 7301 } });
      const token = issued.body.result.token as string;
      const cases: [string, string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }][] = [
        ["GET", "/api/users/7301/token", { headers: { token } }],
        ["GET", "/api/users/7301/token?x=1", { headers: { token } }],
        ["GET", "/api/users/7301/token", {}],
        ["GET", "/api/users/7302/token", { headers: { token } }],
        ["POST", "/api/users/token", { body: { userId: 7301 }, headers: { token } }],
        ["POST", "/api/users/token", { body: { userId: 7301 } }], // 409 ALREADY_QUEUED
        ["POST", "/api/users/token", { body: { userId: "7301" } }],
        // (not here: a body that is not JSON. express.json refuses it before any route matched, so
        // Express logs and measures it as "unmatched" while the hot path names its route.)
      ];
      for (const [method, path, options] of cases) {
        const lineOf = async (url: string) => {
          lines.length = 0;
          await call(url, method, path, { ...options, headers: { ...options.headers, "x-request-id": "log-1" } });
          const requestLines = lines.filter((l) => l.msg === "request completed");
          expect(requestLines).toHaveLength(1);
          const { time, ms, ...rest } = requestLines[0];
          expect([typeof time, typeof ms]).toEqual(["string", "number"]);
          return rest;
        };
        const hot = await lineOf(urlOf(hotServer));
        const viaExpress = await lineOf(urlOf(expressServer));
        expect({ method, path, line: hot }).toEqual({ method, path, line: viaExpress });
      }
      // a successful poll logs at debug, a refused one and an issue at info
      lines.length = 0;
      await call(urlOf(hotServer), "GET", "/api/users/7301/token", { headers: { token } });
      await call(urlOf(hotServer), "GET", "/api/users/7301/token", {});
      await call(urlOf(hotServer), "POST", "/api/users/token", { body: { userId: 7301 }, headers: { token } });
      expect(lines.map((l) => [l.route, l.status, l.level])).toEqual([
        ["/api/users/:userId/token", 200, pino.levels.values.debug],
        ["/api/users/:userId/token", 401, pino.levels.values.info],
        ["/api/users/token", 200, pino.levels.values.info],
      ]);
    } finally {
      hotServer.closeAllConnections();
      expressServer.closeAllConnections();
      await Promise.all([new Promise((r) => hotServer.close(r)), new Promise((r) => expressServer.close(r))]);
      await gateway.close();
    }
  });
});
