import { request } from "node:http";
import { call, startGateway, type RunningGateway } from "./helpers";

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
    expect(me.body).toEqual({ result: { token, status: "WAITING", rank: 1, estimatedWaitSec: expect.any(Number) }, error: null });
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

  it("are measured under their route patterns in /metrics", async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(
      /http_request_duration_seconds_count\{[^}]*method="GET",route="\/api\/users\/:userId\/token",status="200"\} [1-9]/,
    );
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*method="POST",route="\/api\/users\/token",status="200"\} [1-9]/);
    expect(text).toMatch(/http_request_duration_seconds_count\{[^}]*method="POST",route="\/api\/users\/token",status="400"\} [1-9]/);
  });
});
