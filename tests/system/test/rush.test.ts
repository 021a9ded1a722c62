import { Tally, call } from "./support/client";
import { journey, pool, type Journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";

// Scenario 1. 1,000 users at once through both gateways, on the same 100 seats.
const USERS = Number(process.env.SYSTEM_RUSH_USERS ?? 1000);
// Scenario 1b (issue 15): of the buyers of a sold-out date, this many cancel while a second wave buys the freed seats.
const CANCELLERS = 20;

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

  it(`when ${CANCELLERS} of 50 buyers of a sold-out date cancel (each retried at once), each is refunded once and a second wave buys every freed seat`, async () => {
    const { concertId, detailIds } = await sys.concert(1);
    const tally = new Tally();
    const gateways = () => sys.gateways.map((g) => g.url);
    const run = (userIds: number[]) =>
      Promise.all(
        userIds.map((userId) =>
          journey(userId, { gateways, concertId, detailIds, tally, pollMs: 400, deadlineMs: 90_000, holdAttempts: 5 }),
        ),
      );
    const started = Date.now();

    const first = await run(sys.userIds(70));
    const buyers = first.filter((j) => j.outcome === "paid");
    expect(buyers).toHaveLength(50);

    // the second wave queues while admission is paused and the cancels go through (no queue token needed)
    const cfg = `{q:${sys.queueName}}:cfg`;
    await sys.redis.hset(cfg, "paused", "1");
    const secondWave = run(sys.userIds(2 * CANCELLERS));
    const cancellers = buyers.slice(0, CANCELLERS);
    const cancels = await pool(cancellers, 10, async (j) => {
      const send = (gw: string) =>
        call(gw, "POST", `/api/reservations/${j.reservationId}/cancel`, {
          body: { userId: j.userId },
          headers: { "idempotency-key": `cancel-${j.reservationId}` },
          tally,
        });
      // the client's retry, sent at once to the other gateway: the same answer, one refund
      return Promise.all(sys.gateways.map((g) => send(g.url)));
    });
    await sys.redis.hset(cfg, "paused", "0");
    const second = await secondWave;
    const ms = Date.now() - started;

    const answers = cancels.map(([x, y]) => [x.status, y.status, JSON.stringify(x.body?.result) === JSON.stringify(y.body?.result)]);
    const resold = second.filter((j) => j.outcome === "paid");
    const { rows } = await sys.db.pool.query<{ confirmed: number; cancelled: number; refunds: number; refunded: string }>(
      `SELECT count(*) FILTER (WHERE r.status = 'CONFIRMED')::int AS confirmed, count(*) FILTER (WHERE r.status = 'CANCELLED')::int AS cancelled,
              count(l.id)::int AS refunds, coalesce(sum(l.amount), 0)::text AS refunded
         FROM reservation r LEFT JOIN point_ledger l ON l.reservation_id = r.id AND l.type = 'REFUND'
        WHERE r.concert_detail_id = $1`,
      [detailIds[0]],
    );
    const mine = await call(sys.gateways[0].url, "GET", `/api/users/${cancellers[0].userId}/reservations`);
    const inv = await sys.invariants();
    report(
      `1b cancel rush: 70 buyers of 50 seats, ${CANCELLERS} cancel (each twice at once, one key) while ${2 * CANCELLERS} more queue; ` +
        `${tally.total} requests in ${(ms / 1000).toFixed(1)} s (${tally.summary()}); cancels ${answers.filter(([x, y, same]) => x === 200 && y === 200 && same).length}/${CANCELLERS} ` +
        `answered 200 twice alike; resold ${resold.length}; confirmed ${rows[0].confirmed}, cancelled ${rows[0].cancelled}, refund rows ${rows[0].refunds} ` +
        `(${rows[0].refunded} points); 5xx ${tally.fiveXX.length}; ${invariantText(inv)}`,
    );

    expect(tally.fiveXX).toEqual([]);
    expect(answers).toEqual(cancellers.map(() => [200, 200, true]));
    expect(resold).toHaveLength(CANCELLERS);
    expect(new Set([...buyers.slice(CANCELLERS), ...resold].map((j) => j.seatId)).size).toBe(50);
    expect(rows[0]).toEqual({ confirmed: 50, cancelled: CANCELLERS, refunds: CANCELLERS, refunded: String(CANCELLERS * 50_000) });
    expect(mine.body.result.reservations[0]).toMatchObject({ status: "CANCELLED", refund: { amount: 50_000 } });
    expect(inv.violations).toEqual([]);
  }, 180_000);
});
