import { queueKeys } from "@concert/shared";
import { until } from "@concert/test-support";
import IORedis, { type Cluster, type Redis } from "ioredis";
import { Tally, call, retryAfterMs, sleep, type Reply } from "./support/client";
import { journey, type Journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { MASTER_NAME, onlineReplicas, startSentinelGroup, type SentinelGroup } from "./support/redis-sentinel";
import { bad5xx, outcomes, timeUntil } from "./support/scenario";

// Scenarios 11-14 (issue 17): nobody loses their place. Real redis-server processes on loopback:
// a primary, its replica and three sentinels (11, 13, 14), and a single Redis with AOF (12).

const WAITING = 1_000;
const ADMITTED = 100;
const POLL_MS = 2_000;

/** One waiting user: issues a token and polls until told to stop; a 401 is a lost place (queue again). */
interface Waiter {
  userId: number;
  token?: string;
  /** times its token was unknown (401) and it had to queue again */
  lost: number;
  admitted: boolean;
}

/** Runs `WAITING`-style users: each issues, then polls every ~POLL_MS until `stop` (retrying 503s as a client would). */
function startWaiters(gateways: () => string[], userIds: number[], tally: Tally) {
  let stopped = false;
  const waiters: Waiter[] = userIds.map((userId) => ({ userId, lost: 0, admitted: false }));
  const gw = (w: Waiter) => gateways()[w.userId % gateways().length];
  const retried = async (send: () => Promise<Reply>) => {
    for (;;) {
      const r = await send();
      if ((r.status !== 503 && r.status !== 0) || stopped) return r;
      await sleep(retryAfterMs(r));
    }
  };
  const run = async (w: Waiter) => {
    while (!stopped && !w.admitted) {
      const issued = await retried(() => call(gw(w), "POST", "/api/users/token", { body: { userId: w.userId }, tally }));
      if (issued.status !== 200) return;
      w.token = issued.body.result.token;
      while (!stopped) {
        await sleep(POLL_MS / 2 + Math.random() * POLL_MS);
        const polled = await retried(() => call(gw(w), "GET", `/api/users/${w.userId}/token`, { token: w.token, tally }));
        if (polled.status === 401) {
          w.lost++;
          break;
        }
        if (polled.status === 200 && polled.body.result.status !== "WAITING") {
          w.admitted = true;
          break;
        }
      }
    }
  };
  const done = Promise.all(waiters.map(run));
  return {
    waiters,
    issued: () => waiters.filter((w) => w.token).length,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** What Redis holds of the queue: the waiting user ids in order, their tokens, the active tokens. */
async function queueSnapshot(redis: Redis | Cluster, queueName: string) {
  const k = queueKeys(queueName);
  const [waiting, users, active] = await Promise.all([
    redis.zrange(k.waiting, 0, -1),
    redis.hgetall(k.users),
    redis.zrange(k.active, 0, -1),
  ]);
  return { waiting: waiting.map(Number), users, active };
}
type Snapshot = Awaited<ReturnType<typeof queueSnapshot>>;

/**
 * Compares the queue after a fault with before it: each user still waiting has rank after = rank
 * before minus those admitted (or gone) ahead of it, so the order is kept and nobody was put ahead; every waiting user's token is still theirs or was admitted; every active token
 * is still active or ended normally.
 */
async function compareQueues(redis: Redis | Cluster, queueName: string, before: Snapshot, after: Snapshot) {
  const afterSet = new Set(after.waiting);
  const kept = before.waiting.filter((u) => afterSet.has(u));
  const rankAfter = new Map(after.waiting.map((u, i) => [u, i + 1]));
  let goneAhead = 0;
  let rankMismatches = 0;
  for (const [i, u] of before.waiting.entries()) {
    if (!afterSet.has(u)) goneAhead++;
    else if (rankAfter.get(u) !== i + 1 - goneAhead) rankMismatches++;
  }
  const k = queueKeys(queueName);
  /** a waiting user's place is lost when its token is neither waiting (same token) nor admitted/finished */
  let lostPlaces = 0;
  for (const u of before.waiting) {
    const token = before.users[String(u)];
    if (after.users[String(u)] === token) continue;
    const st = await redis.hget(`${k.prefix}t:${token}`, "st");
    if (st !== "A" && st !== "F") lostPlaces++;
  }
  let activeLost = 0;
  for (const token of before.active) {
    const st = await redis.hget(`${k.prefix}t:${token}`, "st");
    if (st !== "A" && st !== "F") activeLost++;
  }
  return { kept: kept.length, orderPreserved: rankMismatches === 0, rankMismatches, lostPlaces, activeLost };
}

/** queue_tokens_lost_total summed over the gateways. */
async function lostMetric(sys: System): Promise<number> {
  let sum = 0;
  for (const g of sys.gateways.filter((a) => a.alive)) {
    const res = await fetch(`${g.url}/metrics`, { headers: { authorization: `Bearer ${sys.metricsToken}` } });
    sum += Number(/^queue_tokens_lost_total\{[^}]*\} (\d+)$/m.exec(await res.text())?.[1] ?? NaN);
  }
  return sum;
}

describe("system: Redis with Sentinel (primary, replica, 3 sentinels), REDIS_MIN_REPLICAS_ACK=1", () => {
  let group: SentinelGroup;
  let sys: System;
  beforeAll(async () => {
    group = await startSentinelGroup();
    sys = await startSystem({
      tag: "sentinel",
      redisUrl: group.url,
      redisClient: () => group.client(),
      gatewayEnv: {
        REDIS_MIN_REPLICAS_ACK: "1",
        REDIS_REPLICA_ACK_TIMEOUT_MS: "500",
        QUEUE_MAX_ACTIVE: String(ADMITTED),
        QUEUE_ADMIT_BATCH: String(ADMITTED),
      },
    });
  }, 90_000);
  afterAll(async () => {
    await sys?.stop();
    await group?.stop();
  }, 60_000);

  const liveGateways = () => sys.gateways.filter((g) => g.alive).map((g) => g.url);

  it(`11. SIGKILL the primary under ${WAITING} waiting and ${ADMITTED} admitted users: failover, 503s meanwhile, no place lost, order kept, seats intact`, async () => {
    const { concertId, detailIds } = await sys.concert(3);
    const tally = new Tally();
    const buyers = sys.userIds(ADMITTED);
    let queued = 0;
    const runs: Promise<Journey>[] = buyers.map((userId) =>
      journey(userId, {
        gateways: liveGateways,
        concertId,
        detailIds,
        tally,
        pollMs: 300,
        deadlineMs: 90_000,
        holdAttempts: 10,
        onQueued: () => queued++,
        // hold, then pay spread over the next seconds: payments before, during and after the failover
        beforePay: () => sleep(Math.random() * 6_000),
      }),
    );
    await timeUntil(async () => queued === ADMITTED, 20_000);
    const waiters = startWaiters(liveGateways, sys.userIds(WAITING), tally);
    await timeUntil(async () => waiters.issued() === WAITING, 30_000);
    // mid-rush: the admitted users are holding seats
    await timeUntil(async () => {
      const { rows } = await sys.db.pool.query(`SELECT count(*)::int AS n FROM reservation WHERE concert_detail_id = ANY($1::int[])`, [
        detailIds,
      ]);
      return rows[0].n >= ADMITTED / 3;
    }, 30_000);

    const oldPort = group.primary.port;
    const before = await queueSnapshot(sys.redis, sys.queueName);
    await group.primary.kill();
    const killedAt = Date.now();
    const promotedMs = await timeUntil(async () => (await group.primaryPort()) !== oldPort, 30_000, 50);
    // a waiting user's poll, through each gateway, answered again from the new primary (usually
    // within 3 s; in about 1 run of 7, under the suite's load, one instance took ~32 s to follow the
    // new primary, cause not found: the bound is generous, the figure is reported every run)
    const probe = waiters.waiters[0];
    const pollsBackMs = await timeUntil(
      async () =>
        (await Promise.all(sys.gateways.map((g) => call(g.url, "GET", `/api/users/${probe.userId}/token`, { token: probe.token })))).every(
          (r) => r.status === 200,
        ),
      60_000,
      50,
    );
    const pollsAnswered = Date.now() - killedAt;
    // the new primary has no replica until the old one returns as its replica: issues wait for that
    await group.primary.restart();
    const probeUser = sys.userIds(1)[0];
    const servedMs = await timeUntil(
      async () => (await call(sys.gateways[0].url, "POST", "/api/users/token", { body: { userId: probeUser } })).status === 200,
      60_000,
      100,
    );
    const failoverAnswered = Date.now() - killedAt;
    // two poll rounds after it, so every waiter has seen whether its place survived
    await sleep(2 * POLL_MS);
    const journeys = await Promise.all(runs);
    const after = await queueSnapshot(sys.redis, sys.queueName);
    const compared = await compareQueues(sys.redis, sys.queueName, before, after);
    await waiters.stop();
    const clientLost = waiters.waiters.filter((w) => w.lost > 0).length;
    const metricLost = await lostMetric(sys);
    const o = outcomes(journeys);
    const inv = await sys.invariants();
    const answered503 = tally.byStatus["503"] ?? 0;
    report(
      `11 sentinel-failover: ${WAITING} waiting + ${ADMITTED} admitted users via 2 gateways + 2 bookings, ${tally.total} requests (${tally.summary()}); ` +
        `primary SIGKILL → sentinels promoted the replica in ${promotedMs} ms, polls answered again ${pollsAnswered} ms after the kill, first issue answered ${failoverAnswered} ms after the kill ` +
        `(${servedMs} ms after the promotion + old primary restarted as replica); ${answered503} answers 503 (all with Retry-After: ${bad5xx(tally).length === 0}); ` +
        `places lost: ${compared.lostPlaces} in Redis, ${clientLost} users saw 401, queue_tokens_lost_total ${metricLost}; ` +
        `order preserved for the ${compared.kept} still waiting: ${compared.orderPreserved} (${compared.rankMismatches} ranks off); active tokens lost ${compared.activeLost} of ${before.active.length}; ` +
        `sentinel TILTs so far ${group.tilts()}; ` +
        `${o.text}; ${invariantText(inv)}`,
    );
    expect(promotedMs).toBeGreaterThan(0);
    expect(pollsBackMs).toBeGreaterThanOrEqual(0);
    expect(servedMs).toBeGreaterThanOrEqual(0);
    expect(answered503).toBeGreaterThan(0);
    expect(bad5xx(tally)).toEqual([]);
    expect([compared.lostPlaces, clientLost, metricLost]).toEqual([0, 0, 0]);
    expect(compared.orderPreserved).toBe(true);
    expect(compared.activeLost).toBe(0);
    expect(o.gaveUp).toBe(0);
    expect(inv.violations).toEqual([]);
  }, 180_000);

  it("13. the replica killed with REDIS_MIN_REPLICAS_ACK=1: issues answer 503 + Retry-After within the timeout, polls keep working", async () => {
    const tally = new Tally();
    const primaryPort = await group.primaryPort();
    const replica = [group.primary, group.replica].find((s) => s.port !== primaryPort)!;
    const primaryClient = sys.redis as Redis;
    await until(
      () => onlineReplicas(primaryClient),
      (n) => n === 1,
      20_000,
    );
    const waiting = await Promise.all(
      sys.userIds(50).map(async (userId) => ({
        userId,
        issued: await call(liveGateways()[userId % 2], "POST", "/api/users/token", { body: { userId } }),
      })),
    );
    expect(waiting.map((w) => w.issued.status)).toEqual(waiting.map(() => 200));

    await replica.kill();
    const refused = await Promise.all(
      sys.userIds(50).map((userId) => call(liveGateways()[userId % 2], "POST", "/api/users/token", { body: { userId }, tally })),
    );
    const polls = await Promise.all(
      waiting.map((w) =>
        call(liveGateways()[w.userId % 2], "GET", `/api/users/${w.userId}/token`, { token: w.issued.body.result.token, tally }),
      ),
    );
    const slowest = Math.max(...refused.map((r) => r.ms));
    const slowestPoll = Math.max(...polls.map((r) => r.ms));
    await replica.restart();
    // (as the sentinels would within 10 s: a restarted server comes up as a primary of its own)
    const restarted = new IORedis(replica.port, "127.0.0.1");
    await restarted.call("REPLICAOF", "127.0.0.1", String(primaryPort)).finally(() => restarted.disconnect());
    await until(
      () => onlineReplicas(primaryClient),
      (n) => n === 1,
      20_000,
    );
    // a client told 503 + Retry-After asks again: the replica's first sync is done (online above),
    // but under load its first acknowledgement can miss one WAIT; what matters is that issues come back
    const backUser = sys.userIds(1)[0];
    const backAt = Date.now();
    let again = await call(liveGateways()[0], "POST", "/api/users/token", { body: { userId: backUser } });
    let refusedAfterBack = 0;
    let replicationAtRefusal = "";
    while (again.status === 503 && Date.now() - backAt < 15_000) {
      refusedAfterBack++;
      replicationAtRefusal ||= ((await primaryClient.info("replication")).match(/^slave\d+:.*$/m) ?? ["no replica listed"])[0];
      await sleep(retryAfterMs(again));
      again = await call(liveGateways()[0], "POST", "/api/users/token", { body: { userId: backUser } });
    }
    const backMs = Date.now() - backAt;
    const inv = await sys.invariants();
    report(
      `13 replica-down: ${refused.length} issues with the replica gone → ${[...new Set(refused.map((r) => r.status))].join("/")} ` +
        `(Retry-After on all: ${refused.every((r) => r.headers["retry-after"])}), slowest ${slowest} ms (timeout 500 ms); ` +
        `${polls.length} polls meanwhile → ${[...new Set(polls.map((r) => r.status))].join("/")}, slowest ${slowestPoll} ms; ` +
        `replica back → issue ${again.status} after ${refusedAfterBack} × 503 in ${backMs} ms${replicationAtRefusal && ` (primary saw ${replicationAtRefusal})`}; ${invariantText(inv)}`,
    );
    expect(refused.map((r) => [r.status, r.body?.error?.code, Boolean(r.headers["retry-after"])])).toEqual(
      refused.map(() => [503, "SERVICE_UNAVAILABLE", true]),
    );
    expect(slowest).toBeLessThan(500 + 700);
    expect(polls.map((r) => [r.status, r.body?.result?.status])).toEqual(polls.map(() => [200, "WAITING"]));
    expect(again.status).toBe(200);
    expect(inv.violations).toEqual([]);
  }, 90_000);

  it("14. a planned failover (SENTINEL FAILOVER) under traffic: the demoted primary's clients follow the new one, nothing answers but 200 or 503", async () => {
    const tally = new Tally();
    const oldPort = await group.primaryPort();
    await until(
      () => onlineReplicas(sys.redis as Redis),
      (n) => n === 1,
      20_000,
    );
    // the sentinels must have seen the replica back up (they check every second) before they can promote it
    await until(() => group.replicaUsable(), Boolean, 20_000, 200);
    const waiters = startWaiters(liveGateways, sys.userIds(200), tally);
    await timeUntil(async () => waiters.issued() === 200, 20_000);
    const sentinel = new IORedis(group.sentinelPorts[0], "127.0.0.1");
    const startedAt = Date.now();
    try {
      await sentinel.call("SENTINEL", "FAILOVER", MASTER_NAME);
    } finally {
      sentinel.disconnect();
    }
    const switchedMs = await timeUntil(async () => (await group.primaryPort()) !== oldPort, 20_000, 50);
    // writes land on the new primary once the old one is its replica: issues through both gateways
    const newUsers = sys.userIds(2);
    const issuedMs = await timeUntil(
      async () =>
        (
          await Promise.all(newUsers.map((userId, i) => call(liveGateways()[i], "POST", "/api/users/token", { body: { userId }, tally })))
        ).every((r) => r.status === 200),
      20_000,
      100,
    );
    const issuedAfterMs = Date.now() - startedAt;
    await sleep(2 * POLL_MS);
    await waiters.stop();
    const lost = waiters.waiters.filter((w) => w.lost > 0).length;
    const inv = await sys.invariants();
    report(
      `14 planned-failover: ${tally.total} requests (${tally.summary()}); sentinels switched the primary ${switchedMs} ms after SENTINEL FAILOVER, ` +
        `issues answered through both gateways ${issuedAfterMs} ms after it (once the sentinels made the old primary a replica); places lost ${lost}; sentinel TILTs so far ${group.tilts()}; ${invariantText(inv)}`,
    );
    expect(switchedMs).toBeGreaterThanOrEqual(0);
    expect(issuedMs).toBeGreaterThanOrEqual(0);
    expect(Object.keys(tally.byStatus).filter((s) => s !== "200" && s !== "503")).toEqual([]);
    expect(bad5xx(tally)).toEqual([]);
    expect(lost).toBe(0);
    expect(inv.violations).toEqual([]);
  }, 60_000);
});

describe("system: a single Redis with AOF (appendfsync everysec)", () => {
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({
      tag: "aof",
      redisArgs: ["--appendonly", "yes", "--appendfsync", "everysec"],
      gatewayEnv: { QUEUE_MAX_ACTIVE: String(ADMITTED), QUEUE_ADMIT_BATCH: String(ADMITTED) },
    });
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  it(`12. SIGKILL and restart from its append-only file under ${WAITING} waiting and ${ADMITTED} admitted users: every place survives`, async () => {
    const gateways = () => sys.gateways.filter((g) => g.alive).map((g) => g.url);
    const tally = new Tally();
    const waiters = startWaiters(gateways, sys.userIds(WAITING + ADMITTED), tally);
    await timeUntil(async () => waiters.issued() === WAITING + ADMITTED, 30_000);
    await timeUntil(async () => (await sys.redis.zcard(queueKeys(sys.queueName).active)) === ADMITTED, 10_000);
    await sleep(1_500); // the last issues are a second old: past everysec's window even on a lost page cache

    const before = await queueSnapshot(sys.redis, sys.queueName);
    await sys.redisServer!.kill();
    const killedAt = Date.now();
    await sys.redisServer!.restart();
    const restartedMs = Date.now() - killedAt;
    const recoveredMs = await timeUntil(
      async () => (await Promise.all(sys.gateways.map((g) => call(g.url, "GET", "/ready")))).every((r) => r.status === 200),
      10_000,
    );
    await sleep(2 * POLL_MS);
    const after = await queueSnapshot(sys.redis, sys.queueName);
    const compared = await compareQueues(sys.redis, sys.queueName, before, after);
    await waiters.stop();
    const clientLost = waiters.waiters.filter((w) => w.lost > 0).length;
    const metricLost = await lostMetric(sys);
    const inv = await sys.invariants();
    report(
      `12 aof-restart: ${WAITING} waiting + ${ADMITTED} admitted users, ${tally.total} requests (${tally.summary()}); redis SIGKILL → up again from its AOF in ${restartedMs} ms, ` +
        `apps ready ${recoveredMs} ms later; waiting ${before.waiting.length} → ${after.waiting.length}, active ${before.active.length} → ${after.active.length}; ` +
        `places lost: ${compared.lostPlaces} in Redis, ${clientLost} users saw 401, queue_tokens_lost_total ${metricLost}; order preserved: ${compared.orderPreserved} (${compared.rankMismatches} ranks off); ` +
        `active tokens lost ${compared.activeLost}; ${invariantText(inv)}`,
    );
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    expect(bad5xx(tally)).toEqual([]);
    expect(before.waiting.length).toBe(WAITING);
    expect([compared.lostPlaces, clientLost, metricLost]).toEqual([0, 0, 0]);
    expect(compared.orderPreserved).toBe(true);
    expect(compared.activeLost).toBe(0);
    expect(inv.violations).toEqual([]);
  }, 120_000);
});
