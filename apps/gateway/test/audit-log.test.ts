// The operators' audit log: every admin write route, through one mechanism, writes one entry (who,
// when, what, before → after) to a Redis stream both instances share; GET /admin/audit pages it.
import { testClock } from "@concert/test-support";
import { AUDIT_PAGE, OPERATOR_NAME_MAX } from "@concert/shared";
import type { Router } from "express";
import { AUDITED } from "../src/api/admin-routes";
import { call, startGateway, type RunningGateway } from "./helpers";

/** Every route of an Express router and the routers mounted in it: method, path, its handlers. */
function allRoutes(router: Router): { method: string; path: string; handlers: unknown[] }[] {
  return router.stack.flatMap((layer): { method: string; path: string; handlers: unknown[] }[] => {
    if (layer.route) {
      const methods = [...new Set(layer.route.stack.map((l) => l.method).filter(Boolean))] as string[];
      return methods.map((method) => ({ method, path: String(layer.route!.path), handlers: layer.route!.stack.map((l) => l.handle) }));
    }
    const inner = (layer.handle as unknown as { stack?: unknown }).stack;
    return Array.isArray(inner) ? allRoutes(layer.handle as unknown as Router) : [];
  });
}

const ADMIN = "admin-token-0123456789";
const auth = (operator?: string) => ({ authorization: `Bearer ${ADMIN}`, ...(operator === undefined ? {} : { "x-operator": operator }) });

describe("audit log", () => {
  let a: RunningGateway;
  let b: RunningGateway;
  beforeEach(async () => {
    const env = { ADMIN_TOKEN: ADMIN, QUEUE_ADMIT_BATCH: "2", QUEUE_NAME: `audit-${process.pid}-${Date.now()}` };
    a = await startGateway(env, { clock: testClock() });
    b = await startGateway(env); // a second instance on the same queue
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });
  const audit = async (g: RunningGateway, query = "") => {
    const r = await call(g.url, "GET", `/admin/audit${query}`, { headers: auth() });
    expect(r.status).toBe(200);
    return r.body.result as { entries: any[]; next: string | null };
  };

  it("writes one entry per action, on either instance, with who, what and the controls before → after, newest first", async () => {
    const defaults = { batch: 2, tickMs: 1000, maxActive: 1000 };
    expect((await call(a.url, "POST", "/admin/queue/pause", { headers: auth("alice") })).status).toBe(200);
    expect((await call(b.url, "PATCH", "/admin/queue/settings", { headers: auth("bob"), body: { batch: 7 } })).status).toBe(200);
    expect((await call(a.url, "POST", "/admin/queue/resume", { headers: auth("alice") })).status).toBe(200);
    expect((await call(b.url, "DELETE", "/admin/queue/settings", { headers: auth() })).status).toBe(200);

    const fromA = await audit(a);
    expect(await audit(b)).toEqual(fromA); // one log for every instance
    expect(fromA.entries.map((e) => [e.operator, e.action, e.method, e.path, e.outcome, e.concertId])).toEqual([
      [null, "queue.settings.reset", "DELETE", "/admin/queue/settings", "applied", null],
      ["alice", "queue.resume", "POST", "/admin/queue/resume", "applied", null],
      ["bob", "queue.settings.update", "PATCH", "/admin/queue/settings", "applied", null],
      ["alice", "queue.pause", "POST", "/admin/queue/pause", "applied", null],
    ]);
    const [reset, resume, update, pause] = fromA.entries;
    expect(pause.before).toEqual({ paused: false, settings: defaults, overridden: [] });
    expect(pause.after).toEqual({ paused: true, settings: defaults, overridden: [] });
    expect(update.request).toEqual({ batch: 7 });
    expect(update.before).toEqual(pause.after);
    expect(update.after).toEqual({ paused: true, settings: { ...defaults, batch: 7 }, overridden: ["batch"] });
    expect(resume.after).toEqual({ paused: false, settings: { ...defaults, batch: 7 }, overridden: ["batch"] });
    expect(reset.after).toEqual({ paused: false, settings: defaults, overridden: [] });
    expect(Date.parse(pause.at)).toBeLessThanOrEqual(Date.parse(reset.at));
    expect(typeof pause.requestId).toBe("string");
  });

  it("records a refused change with its code and before = after; a bad X-Operator is refused before anything is changed or written", async () => {
    const bad = await call(a.url, "PATCH", "/admin/queue/settings", { headers: auth("carol"), body: { batch: 0 } });
    expect([bad.status, bad.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const [refused] = (await audit(a)).entries;
    expect(refused).toMatchObject({
      operator: "carol",
      action: "queue.settings.update",
      outcome: "VALIDATION_FAILED",
      request: { batch: 0 },
    });
    expect(refused.after).toEqual(refused.before);

    for (const name of ["x".repeat(OPERATOR_NAME_MAX + 1), "caf\u00e9"]) {
      const r = await call(a.url, "POST", "/admin/queue/pause", { headers: auth(name) });
      expect([r.status, r.body.error.code, r.body.error.details.field]).toEqual([400, "VALIDATION_FAILED", "X-Operator"]);
    }
    expect((await a.gateway.store.getOverrides()).paused).toBe(false);
    expect((await audit(a)).entries).toHaveLength(1);
    // the longest allowed name, trimmed
    expect((await call(a.url, "POST", "/admin/queue/pause", { headers: auth(`  ${"y".repeat(OPERATOR_NAME_MAX)} `) })).status).toBe(200);
    expect((await audit(b)).entries[0].operator).toBe("y".repeat(OPERATOR_NAME_MAX));
  });

  it("pages newest first with `next`, bounds `limit`, refuses a bad cursor, and is behind the admin token", async () => {
    for (let i = 0; i < 5; i++)
      await call(i % 2 ? a.url : b.url, "PATCH", "/admin/queue/settings", { headers: auth("dan"), body: { batch: i + 1 } });
    const first = await audit(a, "?limit=2");
    expect(first.entries.map((e) => e.request.batch)).toEqual([5, 4]);
    const second = await audit(b, `?limit=2&before=${first.next}`);
    expect(second.entries.map((e) => e.request.batch)).toEqual([3, 2]);
    const last = await audit(a, `?limit=2&before=${second.next}`);
    expect([last.entries.map((e) => e.request.batch), last.next]).toEqual([[1], null]);

    for (const q of [`?limit=${AUDIT_PAGE.max + 1}`, "?limit=0", "?before=nope", "?sort=asc"]) {
      const r = await call(a.url, "GET", `/admin/audit${q}`, { headers: auth() });
      expect([q, r.status, r.body.error.code]).toEqual([q, 400, "VALIDATION_FAILED"]);
    }
    expect((await call(a.url, "GET", "/admin/audit")).status).toBe(401);
    expect((await call(a.url, "GET", "/admin/audit", { headers: { authorization: "Bearer wrong" } })).status).toBe(403);
  });

  it("audits every admin write route the gateway serves: each was registered by the audit loop", () => {
    const writes = allRoutes(a.gateway.app.router as unknown as Router).filter((r) => r.path.startsWith("/admin") && r.method !== "get");
    expect(writes.length).toBeGreaterThanOrEqual(4);
    const unaudited = writes.filter((r) => !r.handlers.some((h) => typeof h === "function" && AUDITED in h));
    expect(unaudited.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });
});
