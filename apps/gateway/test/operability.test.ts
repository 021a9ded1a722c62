import type { Express } from "express";
import { testClock } from "@concert/test-support";
import { call, startFakeBooking, startGateway, type RunningGateway } from "./helpers";
import { BOOKING_ROUTES } from "../src/api/forward-routes";
import { buildOpenApiDocument } from "../src/api/openapi";

/** Every method + path the Express app serves under /api, in OpenAPI form (`{param}`). */
function expressApiRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: any[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths) {
          if (!String(p).startsWith("/api/")) continue;
          // (an `all` route is a path's 405/OPTIONS answer, not an operation)
          for (const m of Object.keys(layer.route.methods))
            if (m !== "_all") found.push(`${m.toUpperCase()} ${String(p).replace(/:(\w+)/g, "{$1}")}`);
        }
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as any).router.stack);
  return found.sort();
}

describe("OpenAPI description", () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw.close());

  it("describes exactly the routes the gateway serves under /api, no more and no fewer", () => {
    const doc = buildOpenApiDocument();
    const documented = Object.entries(doc.paths ?? {})
      .flatMap(([path, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(expressApiRoutes(gw.gateway.app));
    expect(documented.length).toBeGreaterThanOrEqual(BOOKING_ROUTES.length + 3);
  });

  it("gives every documented operation its error answers and a 503", () => {
    const doc = buildOpenApiDocument();
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(item as Record<string, { responses: Record<string, unknown> }>)) {
        const statuses = Object.keys(op.responses);
        expect([`${method} ${path}`, statuses.includes("503")]).toEqual([`${method} ${path}`, true]);
        expect(statuses.some((s) => s.startsWith("4"))).toBe(true);
      }
    }
  });

  it("serves /openapi.json (OpenAPI 3.1) and the Swagger UI at /docs", async () => {
    const spec = await call(gw.url, "GET", "/openapi.json");
    expect(spec.status).toBe(200);
    expect(spec.body.openapi).toBe("3.1.0");
    expect(Object.keys(spec.body.paths)).toContain("/api/users/{userId}/token");
    const docs = await fetch(`${gw.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
  });
});

describe("metrics", () => {
  it("exposes HTTP latency by route and status, queue gauges and tick metrics in Prometheus format", async () => {
    const gw = await startGateway({ QUEUE_ADMIT_BATCH: "2" });
    try {
      for (let u = 1; u <= 3; u++) await call(gw.url, "POST", "/api/users/token", { body: { userId: u } });
      await call(gw.url, "GET", "/api/users/1/token");
      await gw.gateway.ticker.runOnce();
      const r = await fetch(`${gw.url}/metrics`);
      expect(r.headers.get("content-type")).toMatch(/text\/plain/);
      const text = await r.text();
      expect(text).toMatch(/http_request_duration_seconds_count\{app="gateway",method="POST",route="\/api\/users\/token",status="200"\} 3/);
      expect(text).toMatch(
        /http_request_duration_seconds_count\{app="gateway",method="GET",route="\/api\/users\/:userId\/token",status="401"\} 1/,
      );
      expect(text).toMatch(/queue_waiting\{room="general",app="gateway"\} 1/);
      expect(text).toMatch(/queue_active\{room="general",app="gateway"\} 2/);
      expect(text).toMatch(/queue_admitted_total\{room="general",app="gateway"\} 2/);
      expect(text).toMatch(/queue_tick_duration_seconds_count\{app="gateway"\} 1/);
      expect(text).toMatch(/process_cpu_seconds_total/);
    } finally {
      await gw.close();
    }
  });
});

describe("operator controls", () => {
  const ADMIN = "admin-token-0123456789";
  let gw: RunningGateway;
  let other: RunningGateway;
  const tickMs = 10;
  const clock = testClock();
  const auth = { authorization: `Bearer ${ADMIN}` };
  beforeEach(async () => {
    const env = {
      ADMIN_TOKEN: ADMIN,
      QUEUE_ADMIT_BATCH: "2",
      QUEUE_TICK_MS: String(tickMs),
      QUEUE_NAME: `ops-${process.pid}-${Date.now()}`,
    };
    gw = await startGateway(env, { clock });
    other = await startGateway(env, { clock }); // a second instance on the same queue, on the same clock
  });
  afterEach(async () => {
    await gw.close();
    await other.close();
  });
  const tick = async (g: RunningGateway) => {
    clock.advance(tickMs); // a fresh tick slot
    return g.gateway.ticker.runOnce();
  };

  it("refuses operator routes without the admin token (401) or with a wrong one (403), changing nothing", async () => {
    const none = await call(gw.url, "POST", "/admin/queue/pause");
    const wrong = await call(gw.url, "POST", "/admin/queue/pause", { headers: { authorization: "Bearer nope" } });
    expect([none.status, none.body.error.code, wrong.status, wrong.body.error.code]).toEqual([401, "UNAUTHORIZED", 403, "FORBIDDEN"]);
    expect((await gw.gateway.store.getOverrides()).paused).toBe(false);
  });

  it("pause stops admission on every instance; resume restarts it", async () => {
    for (let u = 1; u <= 5; u++) await call(gw.url, "POST", "/api/users/token", { body: { userId: u } });
    const paused = await call(gw.url, "POST", "/admin/queue/pause", { headers: auth });
    expect(paused.body.result).toMatchObject({ paused: true, waiting: 5, active: 0 });
    expect((await tick(other))!.admitted).toBe(0);
    await call(gw.url, "POST", "/admin/queue/resume", { headers: auth });
    expect((await tick(other))!.admitted).toBe(2);
  });

  it("changes batch live for every instance, validates the change, and reports stats", async () => {
    for (let u = 1; u <= 10; u++) await call(gw.url, "POST", "/api/users/token", { body: { userId: u } });
    const bad = await call(gw.url, "PATCH", "/admin/queue/settings", { headers: auth, body: { batch: 0 } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const changed = await call(gw.url, "PATCH", "/admin/queue/settings", { headers: auth, body: { batch: 5 } });
    expect(changed.body.result.settings).toEqual({ batch: 5, tickMs: 10, maxActive: 1000 });
    expect((await tick(other))!.admitted).toBe(5);
    const stats = (await call(gw.url, "GET", "/admin/queue", { headers: auth })).body.result;
    expect(stats).toMatchObject({ waiting: 5, active: 5, admittedLastMinute: 5, paused: false });
    expect(stats.oldestWaitSec).toBeGreaterThanOrEqual(0);
    await call(gw.url, "DELETE", "/admin/queue/settings", { headers: auth });
    expect((await tick(other))!.admitted).toBe(2);
  });

  it("is not mounted at all without ADMIN_TOKEN", async () => {
    const plain = await startGateway();
    try {
      expect((await call(plain.url, "GET", "/admin/queue", { headers: auth })).status).toBe(404);
    } finally {
      await plain.close();
    }
  });
});

describe("request logs", () => {
  it("passes the caller's request id on to booking and echoes it back", async () => {
    const booking = await startFakeBooking();
    const gw = await startGateway({ BOOKING_URL: booking.url });
    try {
      const r = await call(gw.url, "GET", "/api/users/3/point", { headers: { "x-request-id": "trace-42" } });
      expect(r.headers.get("x-request-id")).toBe("trace-42");
      expect(booking.seen[0].requestId).toBe("trace-42");
      const generated = await call(gw.url, "GET", "/api/users/3/point", { headers: { "x-request-id": "bad id with spaces" } });
      expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await gw.close();
      await booking.close();
    }
  });
});

describe("metrics access", () => {
  const token = "m".repeat(24);

  it("with METRICS_TOKEN, /metrics needs it as a bearer token: 401 without, 403 with another, each with the envelope", async () => {
    const gw = await startGateway({ METRICS_TOKEN: token });
    try {
      const none = await call(gw.url, "GET", "/metrics");
      const wrong = await call(gw.url, "GET", "/metrics", { headers: { authorization: `Bearer ${token}x` } });
      expect([none.status, none.body.error?.code, wrong.status, wrong.body.error?.code]).toEqual([401, "UNAUTHORIZED", 403, "FORBIDDEN"]);
      expect(none.body.error?.message).toContain("Authorization: Bearer <METRICS_TOKEN>");
      const right = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect([right.status, (await right.text()).includes("queue_waiting")]).toEqual([200, true]);
    } finally {
      await gw.close();
    }
  });

  it("with METRICS_PORT, /metrics is left off the main port (main.ts serves it on its own listener)", async () => {
    const gw = await startGateway({ METRICS_PORT: "0", METRICS_TOKEN: token });
    try {
      const r = await call(gw.url, "GET", "/metrics", { headers: { authorization: `Bearer ${token}` } });
      expect([r.status, r.body.error?.code]).toEqual([404, "NOT_FOUND"]);
    } finally {
      await gw.close();
    }
  });
});
