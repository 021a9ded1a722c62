import { ROUTE_TABLE } from "../src/api/route-table";
import { call, startGateway, type RunningGateway } from "./helpers";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

/** The table's paths, each with its methods, as a client would request them (`:param` ids filled in). */
const tablePaths = [...new Set(ROUTE_TABLE.map((r) => r.path))].map((path) => ({
  path,
  url: path.replace(/:\w+/g, "1"),
  methods: ROUTE_TABLE.filter((r) => r.path === path).map((r) => r.method.toUpperCase()),
}));
const opsPaths = ["/health", "/ready", "/metrics", "/openapi.json"].map((path) => ({ path, url: path, methods: ["GET"] }));

/** What `Allow` must list: the path's methods, HEAD with GET, and OPTIONS. */
const allowOf = (methods: string[]) => new Set([...methods, ...(methods.includes("GET") ? ["HEAD"] : []), "OPTIONS"]);
const parseAllow = (h: string | null) => new Set((h ?? "").split(",").map((m) => m.trim()));

describe("wrong methods on known paths", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it.each([...tablePaths, ...opsPaths])("$path: every other method is 405 METHOD_NOT_ALLOWED with Allow and the envelope", async (p) => {
    const allow = allowOf(p.methods);
    for (const method of METHODS.filter((m) => !allow.has(m))) {
      const r = await call(gw.url, method, p.url, { body: {} });
      expect([method, r.status, parseAllow(r.headers.get("allow"))]).toEqual([method, 405, allow]);
      if (method !== "HEAD") {
        expect(r.body).toEqual({ result: null, error: { code: "METHOD_NOT_ALLOWED", message: expect.stringContaining(method) } });
      }
    }
  });

  it.each([...tablePaths, ...opsPaths])("$path: OPTIONS is 204 with Allow and no body", async (p) => {
    const r = await call(gw.url, "OPTIONS", p.url);
    expect(r.status).toBe(204);
    expect(parseAllow(r.headers.get("allow"))).toEqual(allowOf(p.methods));
    expect(r.body ?? "").toBe("");
  });

  it("keeps the right methods working: HEAD of a GET route is served by it, and unknown paths stay 404", async () => {
    expect((await call(gw.url, "HEAD", "/health")).status).toBe(200);
    expect((await call(gw.url, "POST", "/api/nothing-here", { body: {} })).status).toBe(404);
    expect((await call(gw.url, "POST", "/api/users/token", { body: { userId: 1 } })).status).toBe(200);
  });

  it("labels a 405 in the metrics with the route's path, not as unmatched", async () => {
    await call(gw.url, "DELETE", "/api/reservations");
    const metrics = (await call(gw.url, "GET", "/metrics")).body as string;
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/api\/reservations"[^}]*status="405"/);
  });
});
