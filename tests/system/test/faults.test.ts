import { until } from "@concert/test-support";
import { Tally, call, sleep, type Reply } from "./support/client";
import { journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { admitUsers, bad5xx, outcomes, paymentBody, paymentBurst, timeUntil } from "./support/scenario";

// Scenarios 2-6: faults injected into a running system (one harness; each scenario leaves it
// whole again for the next).

/** How soon after a dependency returns every app must answer again (the scenario names say 5 s). */
const RECOVERY_BOUND_MS = 5_000;

/**
 * Probes until every answer is 200, for at most twice the bound. Returns how long after `since`
 * (the moment the dependency was back) that came, or null if it never did, and every other answer
 * seen meanwhile (each must be a 503 + Retry-After, never a 500 or no answer).
 */
async function recovery(since: number, probe: () => Promise<Reply[]>): Promise<{ ms: number | null; meanwhile: Reply[] }> {
  const meanwhile: Reply[] = [];
  const last = await until(
    async () => {
      const replies = await probe();
      meanwhile.push(...replies.filter((r) => r.status !== 200));
      return replies;
    },
    (replies) => replies.every((r) => r.status === 200),
    2 * RECOVERY_BOUND_MS,
  );
  return { ms: last.every((r) => r.status === 200) ? Date.now() - since : null, meanwhile };
}

/** The answers that were not a 503 SERVICE_UNAVAILABLE with Retry-After. */
const not503 = (replies: Reply[]) =>
  replies.filter((r) => !(r.status === 503 && r.headers["retry-after"] && r.body?.error?.code === "SERVICE_UNAVAILABLE"));
describe("system: faults", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ tag: "faults", gatewayEnv: { QUEUE_ADMIT_BATCH: "50", QUEUE_TICK_MS: "200" } });
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  /** 5xx only as 503 + Retry-After; on failure, the apps' error log lines say why */
  const expectOnly503 = (tally: Tally) => {
    const bad = bad5xx(tally);
    const errors = sys.takeErrors();
    if (bad.length) report(`  unexpected 5xx ${JSON.stringify(bad.slice(0, 3))}; app errors:\n${errors.join("\n")}`);
    expect(bad).toEqual([]);
  };

  const liveGateways = () => sys.gateways.filter((g) => g.alive && g.name.startsWith("gateway-")).map((g) => g.url);

  it("2. Redis restarted mid-rush: 503 + Retry-After while down, recovery within 5 s, lost tokens 401 then queue again, no seat sold twice", async () => {
    const { concertId, detailIds } = await sys.concert(2);
    const users = sys.userIds(300);
    const tally = new Tally();
    const started = Date.now();
    const runs = users.map((userId) =>
      journey(userId, { gateways: liveGateways, concertId, detailIds, tally, pollMs: 500, deadlineMs: 90_000 }),
    );

    // mid-rush: once a few dozen seats are held or paid, Redis dies (it keeps nothing)
    await timeUntil(async () => {
      const { rows } = await sys.db.pool.query(`SELECT count(*)::int AS n FROM reservation WHERE concert_detail_id = ANY($1::int[])`, [
        detailIds,
      ]);
      return rows[0].n >= 30;
    }, 30_000);
    const before = await call(sys.gateways[0].url, "POST", "/api/users/token", { body: { userId: 900_001 } });
    await sys.redisServer!.kill();
    const killedAt = Date.now();
    // while it is down: 503 + Retry-After from both gateways and both bookings' readiness
    const downProbes = await Promise.all([
      ...sys.gateways.map((g) => call(g.url, "POST", "/api/users/token", { body: { userId: 900_002 } })),
      ...sys.gateways.map((g) => call(g.url, "GET", `/api/concert/${concertId}/date`, { token: before.body.result.token })),
      ...sys.bookings.map((b) => call(b.url, "GET", "/ready")),
    ]);
    const probeMs = Date.now() - killedAt;
    await sleep(Math.max(0, 2000 - probeMs));
    await sys.redisServer!.restart();
    const back = Date.now();
    // each probe queues a new user (asking again for one who holds a place is 409 ALREADY_QUEUED)
    let probeUser = 900_003;
    const recovered = await recovery(back, () =>
      Promise.all([
        ...sys.gateways.map((g) => call(g.url, "POST", "/api/users/token", { body: { userId: probeUser++ } })),
        ...[...sys.bookings, ...sys.gateways].map((a) => call(a.url, "GET", "/ready")),
      ]),
    );
    const lost = await call(sys.gateways[1].url, "GET", "/api/users/900001/token", { token: before.body.result.token });
    const journeys = await Promise.all(runs);
    const o = outcomes(journeys);
    const requeued = journeys.filter((j) => j.requeues > 0).length;
    const inv = await sys.invariants();
    report(
      `2 redis-restart: ${users.length} users, ${tally.total} requests in ${((Date.now() - started) / 1000).toFixed(1)} s (${tally.summary()}); ` +
        `faults 1 (redis SIGKILL for ${back - killedAt} ms); down probes ${downProbes.map((r) => r.status).join("/")} ` +
        `(Retry-After ${downProbes.every((r) => r.headers["retry-after"]) ? "all" : "missing"}); recovered in ${recovered.ms} ms (${recovered.meanwhile.length} answers before); ` +
        `lost token → ${lost.status} ${lost.body?.error?.code}; ${requeued} users queued again; ${o.text}; ${invariantText(inv)}`,
    );
    expect(before.status).toBe(200);
    expect(downProbes.map((r) => r.status)).toEqual(downProbes.map(() => 503));
    expect(downProbes.every((r) => r.headers["retry-after"] && r.body?.error?.code === "SERVICE_UNAVAILABLE")).toBe(true);
    expect(recovered.ms ?? Infinity).toBeLessThan(RECOVERY_BOUND_MS);
    expect(not503(recovered.meanwhile)).toEqual([]);
    expect([lost.status, lost.body?.error?.code]).toEqual([401, "TOKEN_INVALID"]);
    expect(requeued).toBeGreaterThan(0);
    expectOnly503(tally);
    expect(o.gaveUp).toBe(0);
    expect(inv.violations).toEqual([]);
  }, 150_000);

  it("3. Postgres cut for 3 s mid-payment burst: 503s, then recovery; no debit without a confirmed seat and none without a debit", async () => {
    const { concertId, detailIds } = await sys.concert(3);
    const users = sys.userIds(150);
    const tally = new Tally();
    let cutAt = 0;
    let restoredAt = 0;
    let recovered: Awaited<ReturnType<typeof recovery>> = { ms: null, meanwhile: [] };
    let downProbe: Awaited<ReturnType<typeof call>> | null = null;
    let dropped = 0;
    const { journeys } = await paymentBurst(sys, users, {
      concertId,
      detailIds,
      tally,
      pollMs: 400,
      deadlineMs: 90_000,
      spreadMs: 2500,
      injectAtMs: 600,
      inject: async () => {
        dropped = (await sys.pgProxy.cut()).dropped;
        cutAt = Date.now();
        downProbe = await call(sys.bookings[0].url, "GET", "/ready");
        await sleep(3000 - (Date.now() - cutAt));
        await sys.pgProxy.restore();
        restoredAt = Date.now();
        recovered = await recovery(restoredAt, () => Promise.all(sys.bookings.map((b) => call(b.url, "GET", "/ready"))));
      },
    });
    const o = outcomes(journeys);
    const payers = journeys.filter((j) => j.reservationId !== undefined);
    const retriedPay = payers.filter((j) => j.payStatuses.length > 1 || j.retries > 0).length;
    const { rows: perUser } = await sys.db.pool.query(
      `SELECT user_id, count(*)::int AS n FROM payment WHERE user_id = ANY($1::int[]) GROUP BY user_id HAVING count(*) > 1`,
      [users],
    );
    const inv = await sys.invariants();
    report(
      `3 postgres-cut: ${users.length} users, ${tally.total} requests (${tally.summary()}); faults 1 (postgres cut ${restoredAt - cutAt} ms, ${dropped} connections dropped); ` +
        `ready during cut ${downProbe!.status}; recovered ${recovered.ms} ms after restore; ${tally.count((s) => s === 503)} × 503; ${retriedPay} payers retried; ` +
        `${o.text}; users paid twice ${perUser.length}; ${invariantText(inv)}`,
    );
    expect(downProbe!.status).toBe(503);
    expect(tally.count((s) => s === 503)).toBeGreaterThan(0);
    expect(recovered.ms ?? Infinity).toBeLessThan(RECOVERY_BOUND_MS);
    expect(not503(recovered.meanwhile)).toEqual([]);
    expectOnly503(tally);
    expect(o.gaveUp).toBe(0);
    expect(payers.every((j) => j.outcome === "paid")).toBe(true);
    expect(perUser).toEqual([]);
    expect(inv.violations).toEqual([]);
  }, 150_000);

  it("4. a booking instance SIGKILLed during a payment burst: later requests go to the live one; retried payments apply once", async () => {
    const { concertId, detailIds } = await sys.concert(3);
    const users = sys.userIds(150);
    const tally = new Tally();
    const victim = sys.bookings[0];
    let killedAt = 0;
    const { journeys } = await paymentBurst(sys, users, {
      concertId,
      detailIds,
      tally,
      pollMs: 400,
      deadlineMs: 60_000,
      spreadMs: 1500,
      injectAtMs: 400,
      inject: async () => {
        await victim.signal("SIGKILL");
        killedAt = Date.now();
      },
    });
    // later requests: the gateways send them to the live instance
    await sleep(Math.max(0, 1000 - (Date.now() - killedAt)));
    const tokens = await admitUsers(liveGateways()[0], sys.userIds(20));
    const after = new Tally();
    await Promise.all(
      [...tokens.values()].flatMap((token, i) =>
        [0, 1, 2].map(() => call(liveGateways()[i % 2], "GET", `/api/concert/${concertId}/date`, { token, tally: after })),
      ),
    );
    // a retry of a paid request with its Idempotency-Key answers the same payment
    const paidJ = journeys.filter((j) => j.outcome === "paid");
    const replays = await Promise.all(
      paidJ.slice(0, 20).map((j) =>
        call(liveGateways()[0], "POST", "/api/payment", {
          token: j.token,
          body: paymentBody(j),
          headers: { "idempotency-key": `pay-${j.userId}-${j.reservationId}` },
        }),
      ),
    );
    const o = outcomes(journeys);
    const { rows: perUser } = await sys.db.pool.query(
      `SELECT user_id, count(*)::int AS n FROM payment WHERE user_id = ANY($1::int[]) GROUP BY user_id HAVING count(*) > 1`,
      [users],
    );
    const payers = journeys.filter((j) => j.reservationId !== undefined);
    const retried = payers.filter((j) => j.payStatuses.length > 1 || j.retries > 0).length;
    await victim.start(); // back for the next scenarios (same port)
    const inv = await sys.invariants();
    report(
      `4 booking-kill: ${users.length} users, ${tally.total} requests (${tally.summary()}); faults 1 (SIGKILL ${victim.name} mid-burst); ` +
        `${retried} journeys retried; after the kill ${after.total} requests → ${after.summary()}; idempotent replays ${replays.filter((r, i) => r.status === 200 && r.body.result.paymentId === paidJ[i].paymentId).length}/${replays.length} same payment; ` +
        `${o.text}; users paid twice ${perUser.length}; ${invariantText(inv)}`,
    );
    expect(after.count((s) => s !== 200)).toBe(0);
    expect(replays.map((r) => [r.status, r.body?.result?.paymentId])).toEqual(replays.map((_, i) => [200, paidJ[i].paymentId]));
    expectOnly503(tally);
    expect(o.gaveUp).toBe(0);
    expect(payers.every((j) => j.outcome === "paid")).toBe(true);
    expect(perUser).toEqual([]);
    expect(inv.violations).toEqual([]);
  }, 120_000);

  it("5. a gateway killed during admission: the other admits on at the same rate; no token admitted twice", async () => {
    // two more gateways on their own queue, admitting 5 per 200 ms tick
    const queue = `${sys.queueName}_adm`;
    const env = {
      QUEUE_NAME: queue,
      QUEUE_ADMIT_BATCH: "5",
      QUEUE_TICK_MS: "200",
      QUEUE_MAX_ACTIVE: "100000",
      WAITING_IDLE_TTL_SEC: "600",
    };
    const keys = { cfg: `{q:${queue}}:cfg`, stats: `{q:${queue}}:stats`, active: `{q:${queue}}:active`, waiting: `{q:${queue}}:waiting` };
    await sys.redis.hset(keys.cfg, "paused", "1");
    const [a, b] = await Promise.all([sys.addGateway("adm-a", env), sys.addGateway("adm-b", env)]);
    const users = sys.userIds(400);
    const tokens: string[] = [];
    for (let i = 0; i < users.length; i += 50) {
      const batch = await Promise.all(
        users.slice(i, i + 50).map((userId, k) => call([a, b][k % 2].url, "POST", "/api/users/token", { body: { userId } })),
      );
      for (const r of batch) tokens[r.body.result.rank - 1] = r.body.result.token;
    }
    const admitted = async () => Number((await sys.redis.hget(keys.stats, "admitted")) ?? 0);
    await sys.redis.hset(keys.cfg, "paused", "0");
    const t0 = Date.now();
    const n0 = await admitted();
    await sleep(2000);
    const n1 = await admitted();
    const t1 = Date.now();
    await a.signal("SIGKILL");
    await sleep(400);
    const n2 = await admitted();
    const t2 = Date.now();
    await sleep(2000);
    const n3 = await admitted();
    const t3 = Date.now();
    const before = ((n1 - n0) * 1000) / (t1 - t0);
    const after = ((n3 - n2) * 1000) / (t3 - t2);
    await b.stop();
    const stats = await sys.redis.hgetall(keys.stats);
    // each tick that admitted left "slot:tickMs:count" in the admits set: all must be 5, one per slot
    const admits = await sys.redis.zrange(`{q:${queue}}:admits`, 0, -1);
    const perTick = admits.map((m) => Number(m.split(":")[2]));
    const slots = new Set(admits.map((m) => m.split(":")[0]));
    const elapsedSlots = Math.ceil((Date.now() - t0) / 200) + 1;
    const active = await sys.redis.zrange(keys.active, 0, -1);
    const activeSet = new Set(active);
    const total = Number(stats.admitted);
    const headFirst = tokens.slice(0, total).every((t) => activeSet.has(t)) && !tokens.slice(total).some((t) => activeSet.has(t));
    const inv = await sys.invariants();
    report(
      `5 gateway-kill: ${users.length} tokens on 2 admitting gateways, 5/tick of 200 ms; faults 1 (SIGKILL adm-a during admission); ` +
        `rate before ${before.toFixed(1)}/s, after ${after.toFixed(1)}/s; ${admits.length} admitting ticks in ${elapsedSlots} slots admitted ${total} (5 each: ${perTick.every((n) => n === 5)}); ` +
        `active ${active.length}, distinct ${activeSet.size}, head-first ${headFirst}; ${invariantText(inv)}`,
    );
    expect(before).toBeGreaterThan(15); // 25/s configured
    expect(after / before).toBeGreaterThan(0.75);
    expect(after / before).toBeLessThan(1.25);
    expect(perTick.every((n) => n === 5)).toBe(true);
    expect(perTick.reduce((a, n) => a + n, 0)).toBe(total);
    expect(slots.size).toBe(admits.length); // never two ticks in one slot, whichever instance ran it
    expect(admits.length).toBeLessThanOrEqual(elapsedSlots);
    expect(active.length).toBe(total); // each admitted token is active once
    expect(headFirst).toBe(true);
    expect(inv.violations).toEqual([]);
  }, 60_000);

  it("6. graceful stop: SIGTERM during load finishes in-flight requests and exits 0", async () => {
    const { concertId, detailIds } = await sys.concert(1);
    const [gw, other] = sys.gateways.filter((g) => g.name.startsWith("gateway-"));
    const booking = sys.bookings[1];
    const tokens = [...(await admitUsers(other.url, sys.userIds(20))).values()];
    // slow Postgres so that every request is still in flight when the signals arrive
    await sys.pgProxy.slow(300);
    const tally = new Tally();
    const inflight = tokens.flatMap((token) => [
      call(gw.url, "GET", `/api/concert/${concertId}/date`, { token, tally }),
      call(gw.url, "GET", `/api/concert/${detailIds[0]}/seat`, { token, tally }),
    ]);
    await sleep(250);
    await Promise.all([gw.signal("SIGTERM"), booking.signal("SIGTERM")]);
    const replies = await Promise.all(inflight);
    const [gwCode, bookingCode] = await Promise.all([gw.waitExit(15_000), booking.waitExit(15_000)]);
    await sys.pgProxy.restore();
    if (gwCode !== 0 || bookingCode !== 0) report(`  exit output:\n${gw.output()}\n---\n${booking.output()}`);
    // the surviving gateway keeps serving on the surviving booking
    const afterwards = await call(other.url, "GET", `/api/concert/${concertId}/date`, { token: tokens[0] });
    await Promise.all([gw.start(), booking.start()]);
    const inv = await sys.invariants();
    report(
      `6 graceful: ${replies.length} requests in flight through ${gw.name} (postgres slowed 300 ms); faults 2 (SIGTERM ${gw.name} + ${booking.name}); ` +
        `answers ${tally.summary()}; exit codes ${gwCode}/${bookingCode}; afterwards ${afterwards.status}; ${invariantText(inv)}`,
    );
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
    expect([gwCode, bookingCode]).toEqual([0, 0]);
    expect(afterwards.status).toBe(200);
    expect(inv.violations).toEqual([]);
  }, 60_000);
});
