import Redis from "ioredis";
import { connectRedis, createRedis, newQueueToken, queueKeys } from "@concert/shared";
import { startRedisServer, until, type RedisServer } from "@concert/test-support";
import { ReplicaAcks } from "../src/queue/replica-acks";
import { call, startGateway, uniqueName, type RunningGateway } from "./helpers";

const issue = (gw: RunningGateway, userId: number) => call(gw.url, "POST", "/api/users/token", { body: { userId } });
const poll = (gw: RunningGateway, userId: number, token: string) =>
  call(gw.url, "GET", `/api/users/${userId}/token`, { headers: { token } });
/** Replicas that finished their first sync and take the stream of writes. */
/**
 * Replicas that acknowledge a fresh write within 200 ms. "state=online" is not enough: right after
 * a full sync a replica can be online while nothing is streamed to it yet (seen here: its read
 * offset stayed at 0 while the primary's moved on, and WAIT timed out), until it first acknowledges.
 */
const acknowledgingReplicas = async (primary: Redis) => {
  await primary.incr("replica-acks-test:probe");
  return primary.wait(1, 200);
};

// A real primary and a real replica (redis-server --replicaof) on loopback.
describe("REDIS_MIN_REPLICAS_ACK", () => {
  let primary: RedisServer;
  let replica: RedisServer;
  let probe: Redis;
  let replicaProbe: Redis;

  beforeAll(async () => {
    // (no 5 s wait before a replica's first sync)
    primary = await startRedisServer({ extraArgs: ["--repl-diskless-sync-delay", "0"] });
    replica = await startRedisServer({ extraArgs: ["--replicaof", "127.0.0.1", String(primary.port)] });
    probe = new Redis(primary.port, "127.0.0.1");
    replicaProbe = new Redis(replica.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 200 });
    replicaProbe.on("error", () => {});
    await until(
      () => acknowledgingReplicas(probe),
      (n) => n === 1,
      10_000,
    );
  });
  afterAll(async () => {
    probe.disconnect();
    replicaProbe.disconnect();
    await replica.kill();
    await primary.kill();
  });

  it("answers a token only once the replica has it; with the replica gone, issues answer 503 with Retry-After within the timeout while polls keep working", async () => {
    const name = uniqueName("ack");
    const gw = await startGateway({
      REDIS_URL: primary.url,
      QUEUE_NAME: name,
      REDIS_MIN_REPLICAS_ACK: "1",
      REDIS_REPLICA_ACK_TIMEOUT_MS: "300",
    });
    try {
      const issued = await Promise.all([1, 2, 3].map((u) => issue(gw, u)));
      expect(issued.map((r) => r.status)).toEqual([200, 200, 200]);
      // what was answered is on the replica already (a failover to it would keep these places)
      const onReplica = await replicaProbe.hmget(queueKeys(name).users, "1", "2", "3");
      expect(onReplica).toEqual(issued.map((r) => r.body.result.token));

      await replica.kill();
      const started = Date.now();
      const refused = await Promise.all([4, 5, 6, 7, 8].map((u) => issue(gw, u)));
      const elapsed = Date.now() - started;
      expect(refused.map((r) => [r.status, r.headers.get("retry-after"), r.body.error.code])).toEqual(
        Array(5).fill([503, "1", "SERVICE_UNAVAILABLE"]),
      );
      expect(elapsed).toBeLessThan(300 + 500); // the timeout counts from the issue, whatever it queued behind: never a hang
      // polls do not queue behind the WAITs: they have their own connection
      const polled = await Promise.all([1, 2, 3].map((u, i) => poll(gw, u, issued[i].body.result.token)));
      expect(polled.map((r) => [r.status, r.body.result.rank])).toEqual([
        [200, 1],
        [200, 2],
        [200, 3],
      ]);

      // the refused issues took back the places they made (their users never saw a token)
      expect(await probe.hmget(queueKeys(name).users, "4", "5", "6", "7", "8")).toEqual(Array(5).fill(null));
      expect(await probe.zrange(queueKeys(name).waiting, 0, -1)).toEqual(["1", "2", "3"]);

      // the replica back: a refused user asks again, without a token it never got, and gets a place
      await replica.restart();
      await until(
        () => acknowledgingReplicas(probe),
        (n) => n === 1,
        10_000,
      );
      const again = await until(
        () => issue(gw, 4),
        (r) => r.status === 200,
        5_000,
        100,
      );
      expect(again.body.result.rank).toBe(4);
    } finally {
      await gw.close();
    }
  });

  it("shares one WAIT among the confirmations asked while none is out, and each confirmed write is on the replica", async () => {
    await until(
      () => acknowledgingReplicas(probe),
      (n) => n === 1,
      10_000,
    );
    const client = createRedis(primary.url) as Redis;
    await connectRedis(client, primary.url);
    const acks = new ReplicaAcks(client, { minReplicas: 1, timeoutMs: 300 });
    const waits = async () => Number(/^cmdstat_wait:calls=(\d+)/m.exec(await probe.info("commandstats"))?.[1] ?? 0);
    const key = uniqueName("acked");
    try {
      const before = await waits();
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const deadline = acks.deadline();
          await client.set(`${key}:${i}`, "kept");
          await acks.confirm(deadline);
        }),
      );
      const used = (await waits()) - before;
      expect(used).toBeGreaterThanOrEqual(1);
      expect(used).toBeLessThanOrEqual(3);
      expect(await replicaProbe.mget(...Array.from({ length: 50 }, (_, i) => `${key}:${i}`))).toEqual(Array(50).fill("kept"));
    } finally {
      client.disconnect();
    }
  });

  it("without it (0, the default), an issue is answered as soon as the primary has it, replica or not", async () => {
    const lonely = await startRedisServer();
    const gw = await startGateway({ REDIS_URL: lonely.url });
    try {
      expect((await issue(gw, 1)).status).toBe(200);
    } finally {
      await gw.close();
      await lonely.kill();
    }
  });
});

describe("queue_tokens_lost_total", () => {
  it("counts a poll or a forwarded request with a token issued to that user that Redis lost, answered 401 as any unknown token", async () => {
    const gw = await startGateway();
    const redis = new Redis();
    try {
      const { token } = (await issue(gw, 7)).body.result;
      const { prefix, ...keys } = gw.gateway.store.keys;
      expect(await redis.del(...Object.values(keys))).toBeGreaterThan(0); // the queue's data in ${prefix} is gone
      const lost = await poll(gw, 7, token);
      expect([lost.status, lost.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
      // not ours to count: another user's token, a token that never carried a user id
      expect((await poll(gw, 8, token)).status).toBe(401);
      expect((await poll(gw, 7, "00000000-0000-4000-8000-000000000000")).status).toBe(401);
      expect((await poll(gw, 9, newQueueToken(10))).status).toBe(401);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      expect(metrics).toMatch(/^queue_tokens_lost_total\{app="gateway"\} 1$/m);
      // an admitted user's next request (forwarded routes) counts too, answered the same
      const browse = await call(gw.url, "GET", "/api/concert/1/date", { headers: { token } });
      expect([browse.status, browse.body.error.code]).toEqual([401, "TOKEN_INVALID"]);
      expect(await (await fetch(`${gw.url}/metrics`)).text()).toMatch(/^queue_tokens_lost_total\{app="gateway"\} 2$/m);
    } finally {
      redis.disconnect();
      await gw.close();
    }
  });
});
