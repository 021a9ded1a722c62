import Redis from "ioredis";
import { Tally, call } from "./support/client";
import { journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { startRedisCluster, startRedisServer, type RedisCluster, type RedisServer } from "./support/redis-server";
import { admitUsers, outcomes } from "./support/scenario";

// Scenario 10. The same apps, unchanged, on a 3-master Redis Cluster (REDIS_URL=redis+cluster://...),
// with Redlock on three independent Redis nodes (REDLOCK_URLS).
describe("system: scale-out", () => {
  let cluster: RedisCluster;
  let lockNodes: RedisServer[];
  let sys: System;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    lockNodes = await Promise.all([startRedisServer(), startRedisServer(), startRedisServer()]);
    sys = await startSystem({
      tag: "scale",
      redisUrl: cluster.url,
      bookingEnv: { REDLOCK_URLS: lockNodes.map((n) => n.url).join(",") },
      gatewayEnv: { TOKEN_RATE_LIMIT: "100000" },
    });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
    await Promise.all(lockNodes?.map((n) => n.kill()) ?? []);
    await cluster?.stop();
  }, 60_000);

  /** EVAL/EVALSHA calls a lock node has served (Redlock's acquire and release scripts). */
  const evals = async (node: RedisServer): Promise<number> => {
    const c = new Redis(node.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on("error", () => {});
    try {
      await c.connect();
      const info = await c.info("commandstats");
      return [...info.matchAll(/cmdstat_(?:eval|evalsha):calls=(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    } catch {
      return -1;
    } finally {
      c.disconnect();
    }
  };

  it("10. gateway and booking run unchanged on a 3-master Redis Cluster, and Redlock locks on three independent nodes (a majority)", async () => {
    const { concertId, detailIds } = await sys.concert(1);
    const users = sys.userIds(150);
    const tally = new Tally();
    const evalsBefore = await Promise.all(lockNodes.map(evals));
    const gateways = () => sys.gateways.map((g) => g.url);
    const journeys = await Promise.all(
      users.map((userId) => journey(userId, { gateways, concertId, detailIds, tally, pollMs: 400, deadlineMs: 60_000 })),
    );
    const o = outcomes(journeys);
    const evalsAfter = await Promise.all(lockNodes.map(evals));
    const lockCalls = evalsAfter.map((n, i) => n - evalsBefore[i]);
    const holds = tally.byStatus["201"] ?? 0;
    // the queue's keys share one hash slot; the booking keys spread over the masters
    const probe = new Redis(cluster.ports[0], "127.0.0.1");
    const slot = Number(await probe.call("CLUSTER", "KEYSLOT", `{q:${sys.queueName}}:waiting`));
    probe.disconnect();

    // quorum: one lock node down, holds still work; two down, a hold is refused with 503 and nothing changes
    const [u1, u2] = sys.userIds(2);
    const {
      detailIds: [d2],
    } = await sys.concert(1);
    const tokens = await admitUsers(sys.gateways[0].url, [u1, u2]);
    await lockNodes[0].kill();
    const oneDown = await call(sys.gateways[1].url, "POST", "/api/reservations", {
      token: tokens.get(u1),
      body: { concertDetailId: d2, userId: u1, seatId: 1 },
    });
    await lockNodes[1].kill();
    const { rows: before } = await sys.db.pool.query(`SELECT count(*)::int AS n FROM reservation`);
    const twoDown = await call(sys.gateways[0].url, "POST", "/api/reservations", {
      token: tokens.get(u2),
      body: { concertDetailId: d2, userId: u2, seatId: 2 },
    });
    const { rows: after } = await sys.db.pool.query(`SELECT count(*)::int AS n FROM reservation`);
    await Promise.all([lockNodes[0].restart(), lockNodes[1].restart()]);
    // back to a majority: the same hold goes through (the apps reconnected by themselves)
    let again = twoDown;
    for (let i = 0; i < 50 && again.status !== 201; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await call(sys.gateways[0].url, "POST", "/api/reservations", {
        token: tokens.get(u2),
        body: { concertDetailId: d2, userId: u2, seatId: 2 },
      });
    }
    // a several-seat hold claims its seats' gate keys in one script: they share the date's hash slot
    const several = await call(sys.gateways[1].url, "POST", "/api/reservations", {
      token: tokens.get(u1),
      body: { concertDetailId: d2, userId: u1, seatIds: [10, 11, 12] },
    });
    const inv = await sys.invariants();
    report(
      `10 scale-out: 2 gateways + 2 bookings on a 3-master cluster (${cluster.ports.join(",")}), queue slot ${slot}; ${users.length} users, ${tally.total} requests (${tally.summary()}); ${o.text}; ` +
        `Redlock evals per lock node ${lockCalls.join("/")} for ${holds} holds; 1 of 3 lock nodes down → hold ${oneDown.status}; 2 of 3 down → ${twoDown.status} ${twoDown.body?.error?.code} ` +
        `(reservations ${before[0].n}→${after[0].n}); majority back → ${again.status}; ` +
        `several-seat hold → ${several.status} (${several.body?.result?.reservations?.length ?? 0} seats); faults 2 (lock nodes SIGKILLed); ${invariantText(inv)}`,
    );
    expect(tally.fiveXX).toEqual([]);
    expect([several.status, several.body?.result?.reservations?.length]).toEqual([201, 3]);
    expect(o.gaveUp).toBe(0);
    expect(o.paid).toBe(50);
    expect(lockCalls.every((n) => n >= holds)).toBe(true); // every hold locked on all three nodes
    expect(oneDown.status).toBe(201);
    expect([twoDown.status, twoDown.body?.error?.code]).toEqual([503, "SERVICE_UNAVAILABLE"]);
    expect(twoDown.headers["retry-after"]).toBeDefined();
    expect(after[0].n).toBe(before[0].n);
    expect(again.status).toBe(201);
    expect(inv.violations).toEqual([]);
  }, 150_000);
});
