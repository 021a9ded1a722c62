import { ID_PATTERN, ROUTES, openApiPath } from "@concert/shared";
import { compileHotRoutes, pathPattern } from "../src/api/hot-routes";
import { buildOpenApiDocument } from "../src/api/openapi";
import { publicRoutes, successLevelOf } from "../src/api/public-routes";
import { ROUTE_TABLE, type GatewayRoute } from "../src/api/route-table";
import { call, startGateway, type RunningGateway } from "./helpers";

const key = (r: { method: string; path: string }) => `${r.method.toUpperCase()} ${r.path}`;

describe("the gateway's route table", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it("names each shared route once, at its shared method and path", () => {
    expect(ROUTE_TABLE.map((r) => r.name).sort()).toEqual(Object.keys(ROUTES).sort());
    for (const r of ROUTE_TABLE) expect(key(r)).toBe(key(ROUTES[r.name]));
    expect(new Set(ROUTE_TABLE.map(key)).size).toBe(ROUTE_TABLE.length);
  });

  it("is served: no entry is answered with the edge's 404 (operability.test.ts: nothing else under /api is)", async () => {
    for (const r of ROUTE_TABLE) {
      const answer = await call(gw.url, r.method.toUpperCase(), r.path.replace(/:\w+/g, "1"), r.body ? { body: {} } : {});
      expect([r.name, answer.status, answer.body?.error?.message]).not.toEqual([r.name, 404, expect.stringMatching(/^No route for/)]);
    }
  });

  it("puts exactly its hot entries and every forwarded one on the node:http hot path (only the SSE stream is Express's alone)", () => {
    const hot = [...compileHotRoutes().values()].flat().map((h) => key(h.route));
    expect(hot.sort()).toEqual(
      ROUTE_TABLE.filter((r) => r.served === "hot" || r.served === "booking")
        .map(key)
        .sort(),
    );
    expect(ROUTE_TABLE.filter((r) => !hot.includes(key(r))).map((r) => r.name)).toEqual(["queueStream"]);
  });

  it("is exactly what the OpenAPI document describes, with each route's path parameters, query and body", () => {
    const doc = buildOpenApiDocument();
    const documented = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item as object).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.sort()).toEqual(ROUTE_TABLE.map((r) => key({ method: r.method, path: openApiPath(r.path) })).sort());
    for (const r of ROUTE_TABLE) {
      const op = (doc.paths as any)[openApiPath(r.path)][r.method] as {
        parameters?: { in: string; name: string }[];
        requestBody?: unknown;
      };
      const names = (where: string) => (op.parameters ?? []).filter((p) => p.in === where).map((p) => p.name);
      const pathParams = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
      expect({ route: r.name, path: names("path"), query: names("query"), body: op.requestBody !== undefined }).toEqual({
        route: r.name,
        path: pathParams,
        query: Object.keys(r.query?.shape ?? {}),
        body: r.body !== undefined,
      });
      if (r.access === "token" && !r.query?.shape.token) expect(names("header")).toContain("token");
    }
  });

  it("gives the success of the poll and the seat-map reads the debug level on Express too, every other route info", () => {
    const level = successLevelOf();
    for (const r of ROUTE_TABLE) {
      expect([r.name, level({ method: r.method.toUpperCase() } as any, r.path)]).toEqual([
        r.name,
        ["pollToken", "freeSeats", "concertDates"].includes(r.name) ? "debug" : "info",
      ]);
    }
  });
});

describe("the table's consumers refuse an entry they cannot serve", () => {
  const extra: GatewayRoute = { ...ROUTE_TABLE[0], name: "queueStream", ...ROUTES.queueStream, served: "hot" };

  it("the hot matcher, for a hot route with no hot form", () => {
    expect(() => compileHotRoutes([extra])).toThrow(/queueStream is served "hot" but hot-routes.ts has no hot form/);
  });

  it("Express registration, for a route with no handler", () => {
    expect(() => publicRoutes({}, () => () => undefined, undefined, [{ ...extra, served: "express" }])).toThrow(
      /queueStream .* has no Express handler/,
    );
  });
});

describe("hot path patterns", () => {
  it("match a path's :param segments as ids, exactly as the shared id pattern", () => {
    const poll = pathPattern(ROUTES.pollToken.path);
    for (const id of ["1", "7", "2147483647", "9999999999", "0", "01", "-1", "1.5", "99999999999", "", "1a"]) {
      expect([id, poll.exec(`/api/users/${id}/token`)?.[1] ?? null]).toEqual([id, ID_PATTERN.test(id) ? id : null]);
    }
    expect(poll.test("/api/users/1/token/")).toBe(false);
    expect(poll.test("/api/usersX1/token")).toBe(false);
  });
});
