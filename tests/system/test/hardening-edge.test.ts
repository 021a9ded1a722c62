import { DEV_PASSPORT_SECRET } from "@concert/shared";
import { freePort, runEntryPoint, until } from "@concert/test-support";
import { Client } from "pg";
import { Tally, call, isErrorEnvelope } from "./support/client";
import { databaseUrl } from "./support/database";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { MAINS, type AppProcess } from "./support/processes";
import { admitUsers } from "./support/scenario";

// Issue 12, items 4, 7, 8, 9, 10 against real processes (NODE_ENV=production, as the harness runs them).
describe("system: hardening (edge)", () => {
  let sys: System;
  let gw: string;
  let detailId: number;
  /** a second gateway: /metrics on its own port, TRUST_PROXY=true, request lines logged */
  let side: AppProcess;
  let metricsPort: number;
  const figures: string[] = [];
  beforeAll(async () => {
    sys = await startSystem({ tag: "hardedge", bookings: 1, gateways: 1 });
    gw = sys.gateways[0].url;
    ({
      detailIds: [detailId],
    } = await sys.concert(1));
    metricsPort = await freePort();
    side = await sys.addGateway("gateway-side", { METRICS_PORT: String(metricsPort), TRUST_PROXY: "true", LOG_LEVEL: "info" });
  }, 90_000);
  afterAll(async () => {
    report(`hardening-edge: ${figures.join("; ")}`);
    await sys?.stop();
  }, 60_000);

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it("8. /metrics of both apps needs METRICS_TOKEN; with METRICS_PORT it is served only there", async () => {
    const seen: string[] = [];
    for (const app of [sys.gateways[0], sys.bookings[0]]) {
      const none = await call(app.url, "GET", "/metrics");
      const wrong = await call(app.url, "GET", "/metrics", { headers: bearer(`${sys.metricsToken}0`) });
      const right = await call(app.url, "GET", "/metrics", { headers: bearer(sys.metricsToken) });
      expect([app.name, none.status, isErrorEnvelope(none.body), wrong.status, isErrorEnvelope(wrong.body), right.status]).toEqual([
        app.name,
        401,
        true,
        403,
        true,
        200,
      ]);
      expect(String(right.body)).toContain("http_request_duration_seconds");
      seen.push(`${app.kind} ${none.status}/${wrong.status}/${right.status}`);
    }
    const bookingMetricsPort = await freePort();
    const sideBooking = sys.bookingProcess("booking-side", { METRICS_PORT: String(bookingMetricsPort) });
    sys.bookings.push(sideBooking); // stopped with the system
    await sideBooking.start();
    const own: string[] = [];
    for (const [app, port, sample] of [
      [side, metricsPort, 'queue_waiting{room="general",app="gateway"}'],
      [sideBooking, bookingMetricsPort, 'holds_created_total{app="booking"}'],
    ] as const) {
      const url = `http://127.0.0.1:${port}`;
      const onMain = await call(app.url, "GET", "/metrics", { headers: bearer(sys.metricsToken) });
      const ownNone = await call(url, "GET", "/metrics");
      const ownRight = await call(url, "GET", "/metrics", { headers: bearer(sys.metricsToken) });
      const ownOther = await call(url, "GET", "/health", { headers: bearer(sys.metricsToken) });
      expect([app.kind, onMain.status, ownNone.status, ownRight.status, ownOther.status]).toEqual([app.kind, 404, 401, 200, 404]);
      expect(String(ownRight.body)).toContain(sample);
      own.push(`${app.kind} main ${onMain.status} own ${ownNone.status}/${ownRight.status}`);
    }
    figures.push(`metrics none/wrong/right ${seen.join(", ")}; METRICS_PORT ${own.join(", ")}`);
  });

  it("7. TRUST_PROXY=true is warned about at start, once, at warn level", async () => {
    // (log lines are written in batches, up to half a second late)
    const warnings = await until(
      async () =>
        side
          .output()
          .split("\n")
          .filter((l) => l.includes('"level":40') && l.includes("TRUST_PROXY=true")),
      (w) => w.length > 0,
      3_000,
    );
    expect(warnings).toHaveLength(1);
    expect(sys.gateways[0].output()).not.toContain("TRUST_PROXY=true");
    figures.push("TRUST_PROXY=true warnings 1 (default gateway 0)");
  });

  it("9. a stream token given as %74oken is accepted as token and masked in the logged url", async () => {
    const [userId] = sys.userIds(1);
    const issued = await call(side.url, "POST", "/api/users/token", { body: { userId } });
    const token = issued.body.result.token as string;
    const abort = new AbortController();
    const stream = await fetch(`${side.url}/api/queue/stream?userId=${userId}&%74oken=${token}`, { signal: abort.signal });
    const accepted = [stream.status, stream.headers.get("content-type")];
    abort.abort();
    expect(accepted).toEqual([200, expect.stringContaining("text/event-stream")]);
    // a stream is logged when it ends; a refusal ends at once: another user's id with the token
    // (a 403 TOKEN_USER_MISMATCH, so the token was read, not missing)
    const mismatch = await call(side.url, "GET", `/api/queue/stream?userId=${userId + 1}&%74oken=${token}`);
    expect([mismatch.status, mismatch.body?.error?.code]).toEqual([403, "TOKEN_USER_MISMATCH"]);
    const line = await until(
      async () =>
        side
          .output()
          .split("\n")
          .find((l) => l.includes('"route":"/api/queue/stream"') && l.includes('"status":403')),
      (l) => l !== undefined,
      3_000,
    );
    expect(line).toContain("%74oken=***");
    expect(side.output()).not.toContain(token);
    figures.push("%74oken stream 200, logged masked");
  });

  it("10. NODE_ENV=production with the built-in development passport secret does not start, on either app", async () => {
    const codes: string[] = [];
    for (const kind of ["gateway", "booking"] as const) {
      const { code, stderr } = await runEntryPoint(MAINS[kind], {
        NODE_ENV: "production",
        PASSPORT_SECRET: DEV_PASSPORT_SECRET,
        METRICS_TOKEN: sys.metricsToken,
      });
      expect([kind, code, stderr]).toEqual([kind, 1, expect.stringContaining("PASSPORT_SECRET: is the built-in development secret")]);
      codes.push(`${kind} exit ${code}`);
    }
    figures.push(`dev secret: ${codes.join(", ")}`);
  });

  it("4. while Postgres refuses connections to the database, holds get 503 + Retry-After (no 500), commit nothing, and work again after", async () => {
    const users = sys.userIds(30);
    const tokens = await admitUsers(gw, users);
    const admin = new Client({ connectionString: databaseUrl("postgres") });
    await admin.connect();
    const allow = (yes: boolean) => admin.query(`ALTER DATABASE "${sys.db.name}" ALLOW_CONNECTIONS ${yes}`);
    const hold = (userId: number, seatId: number, tally: Tally) =>
      call(gw, "POST", "/api/reservations", { token: tokens.get(userId), body: { concertDetailId: detailId, userId, seatId }, tally });
    const down = new Tally();
    let refusedMs = 0;
    try {
      await allow(false);
      const started = Date.now();
      // booking's open connections go too, so each hold needs a new one, which the server refuses
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [sys.db.name]);
      const refused = await Promise.all(users.map((u, i) => hold(u, i + 1, down)));
      refusedMs = Date.now() - started;
      expect(down.summary()).toBe(`503:${users.length}`);
      expect(refused.every((r) => r.headers["retry-after"] !== undefined && r.body?.error?.code === "SERVICE_UNAVAILABLE")).toBe(true);
    } finally {
      await allow(true);
      await admin.end();
    }
    const backStarted = Date.now();
    const first = await until(
      () => hold(users[0], 1, new Tally()),
      (r) => r.status === 201,
      15_000,
      200,
    );
    const recoveryMs = Date.now() - backStarted;
    expect(first.status).toBe(201);
    // the same seats again: a refused hold left neither a row nor a seat gate behind
    const up = new Tally();
    await Promise.all(users.slice(1).map((u, i) => hold(u, i + 2, up)));
    expect(up.summary()).toBe(`201:${users.length - 1}`);
    const { rows } = await sys.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM reservation WHERE concert_detail_id = $1", [
      detailId,
    ]);
    expect(rows[0].n).toBe(users.length);
    expect(sys.takeErrors()).toEqual([]);
    const inv = await sys.invariants();
    expect(inv.violations).toEqual([]);
    figures.push(
      `pg refusing: ${down.summary()} in ${refusedMs} ms, recovered in ${recoveryMs} ms, then ${up.summary()}, ${invariantText(inv)}`,
    );
  }, 60_000);
});
