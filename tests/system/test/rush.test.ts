import { Tally, call } from "./support/client";
import { journey, type Journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";

// Scenario 1. 1,000 users at once through both gateways, on the same 100 seats.
const USERS = Number(process.env.SYSTEM_RUSH_USERS ?? 1000);

describe("system: rush", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ tag: "rush", gatewayEnv: { QUEUE_ADMIT_BATCH: "100", QUEUE_TICK_MS: "200" } });
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  it(`when ${USERS} users arrive at once through both gateways, each ends with a paid seat or a clear 4xx, in arrival order, with zero 5xx`, async () => {
    const { concertId, detailIds } = await sys.concert(2);
    const users = sys.userIds(USERS);
    const tally = new Tally();
    const started = Date.now();
    // Admission is held (the operators' pause switch) while everyone arrives, so each arrival's
    // first rank is its exact place: ranks must be 1..N, each once.
    const cfg = `{q:${sys.queueName}}:cfg`;
    await sys.redis.hset(cfg, "paused", "1");
    let arrived = 0;
    const release = (async () => {
      while (arrived < USERS && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20));
      await sys.redis.hset(cfg, "paused", "0");
    })();
    const gateways = () => sys.gateways.map((g) => g.url);
    const journeys: Journey[] = await Promise.all(
      users.map((userId) =>
        journey(userId, {
          gateways,
          concertId,
          detailIds,
          tally,
          pollMs: 600,
          deadlineMs: 120_000,
          onQueued: () => arrived++,
        }),
      ),
    );
    await release;
    const ms = Date.now() - started;

    const paid = journeys.filter((j) => j.outcome === "paid");
    const refused = journeys.filter((j) => j.outcome === "refused");
    const gaveUp = journeys.filter((j) => j.outcome === "gave-up");
    const codes: Record<string, number> = {};
    for (const j of refused) codes[j.code ?? "?"] = (codes[j.code ?? "?"] ?? 0) + 1;

    // arrival order: ranks at arrival are exactly 1..N; nobody was seen admitted while someone
    // who arrived earlier was still seen waiting afterwards
    const ranks = journeys.map((j) => j.initialRank ?? 0).sort((a, b) => a - b);
    const byRank = [...journeys].sort((a, b) => (a.initialRank ?? 0) - (b.initialRank ?? 0));
    let overtakes = 0;
    let minAdmittedAfter = Infinity;
    for (let i = byRank.length - 1; i >= 0; i--) {
      const j = byRank[i];
      if (j.lastWaitingAt !== undefined && j.lastWaitingAt > minAdmittedAfter) overtakes++;
      if (j.admittedAt !== undefined) minAdmittedAfter = Math.min(minAdmittedAfter, j.admittedAt);
    }

    const inv = await sys.invariants();
    const { rows } = await sys.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM reservation WHERE status = 'CONFIRMED' AND concert_detail_id = ANY($1::int[])`,
      [detailIds],
    );
    report(
      `1 rush: ${USERS} users, 2 gateways, 2 bookings, ${detailIds.length * 50} seats; ${tally.total} requests in ${(ms / 1000).toFixed(1)} s ` +
        `(${tally.summary()}); paid ${paid.length}, refused ${refused.length} ${JSON.stringify(codes)}, gave up ${gaveUp.length}; ` +
        `5xx ${tally.fiveXX.length}; ranks 1..${USERS} exact: ${ranks.every((r, i) => r === i + 1)}; overtakes ${overtakes}; ${invariantText(inv)}`,
    );

    if (process.env.SYSTEM_DEBUG) {
      const admitted = Math.max(...journeys.map((j) => j.admittedAt ?? 0)) - started;
      report(`  debug: all admitted after ${admitted} ms; ${tally.latencies()}`);
    }
    expect(tally.fiveXX).toEqual([]);
    expect(gaveUp.map((j) => ({ user: j.userId, status: j.status, error: j.error }))).toEqual([]);
    expect(refused.every((j) => j.status! >= 400 && j.status! < 500 && typeof j.code === "string")).toBe(true);
    expect(ranks).toEqual(users.map((_, i) => i + 1));
    expect(overtakes).toBe(0);
    expect(inv.violations).toEqual([]);
    expect(paid.length).toBe(rows[0].n);
    expect(paid.length).toBe(detailIds.length * 50); // 1,000 users for 100 seats: every seat sold, once
    expect(new Set(paid.map((j) => `${j.detailId}:${j.seatId}`)).size).toBe(paid.length);
    // every booking and gateway is still up
    for (const app of [...sys.gateways, ...sys.bookings]) expect((await call(app.url, "GET", "/health")).status).toBe(200);
  }, 180_000);
});
