import { randomBytes } from "node:crypto";
import type { Cluster } from "ioredis";
import { call, sleep } from "./support/client";
import { pool } from "./support/flows";
import { report, startSystem, type System } from "./support/harness";
import { operator } from "./support/operator";
import { startRedisCluster, type RedisCluster } from "./support/redis-server";

// Issue 14 on a 3-master Redis Cluster: each concert room's keys share their own hash tag
// ({q:<QUEUE_NAME>:c<id>}), so rooms spread over the masters, and each room's tick admits exactly
// its own batch per slot however many gateways run it.
describe("system: concert rooms on a 3-master Redis Cluster", () => {
  const adminToken = randomBytes(16).toString("hex");
  let cluster: RedisCluster;
  let sys: System;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    sys = await startSystem({
      tag: "clrooms",
      bookings: 1,
      gateways: 2,
      redisUrl: cluster.url,
      gatewayEnv: { ADMIN_TOKEN: adminToken, TOKEN_RATE_LIMIT: "100000" },
    });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
    await cluster?.stop();
  }, 60_000);

  const { admin, createConcert } = operator(() => sys, adminToken);

  /** The port of the master serving a key's slot. */
  const masterOf = async (key: string): Promise<number> => {
    const redis = sys.redis as Cluster;
    const slot = Number(await redis.cluster("KEYSLOT", key));
    const slots = await redis.cluster("SLOTS");
    const range = slots.find(([from, to]) => slot >= from && slot <= to)!;
    return range[2][1];
  };

  it("three rooms' keys sit on three different masters, and each admits exactly its batch per tick", async () => {
    const rooms: { concertId: number; batch: number; master: number }[] = [];
    const batches = [3, 5, 7];
    for (let i = 0; i < 30 && rooms.length < 3; i++) {
      const batch = batches[rooms.length];
      const { concertId } = await createConcert({ name: `Cluster ${i}`, room: { batch, tickMs: 1000, maxActive: 1000 } });
      const master = await masterOf(`{q:${sys.queueName}:c${concertId}}:waiting`);
      if (rooms.some((x) => x.master === master)) continue; // another master wanted
      rooms.push({ concertId, batch, master });
    }
    expect(new Set(rooms.map((r) => r.master)).size).toBe(3);
    for (const r of rooms) expect((await admin("POST", `/admin/rooms/${r.concertId}/pause`)).status).toBe(200);
    const users = sys.userIds(90);
    await pool(users, 30, async (u, i) => {
      const room = rooms[i % 3];
      const answer = await call(sys.gateways[i % 2].url, "POST", "/api/users/token", { body: { userId: u, concertId: room.concertId } });
      expect([answer.status, answer.body.error, answer.body.result?.concertId]).toEqual([200, null, room.concertId]);
    });
    for (const r of rooms) {
      const key = `{q:${sys.queueName}:c${r.concertId}}:waiting`;
      expect(await sys.redis.zcard(key)).toBe(30);
      expect(await masterOf(key)).toBe(r.master);
    }
    for (const r of rooms) await admin("POST", `/admin/rooms/${r.concertId}/resume`);
    await sleep(2500);
    for (const r of rooms) {
      const admits = await sys.redis.zrange(`{q:${sys.queueName}:c${r.concertId}}:admits`, 0, -1);
      const active = await sys.redis.zcard(`{q:${sys.queueName}:c${r.concertId}}:active`);
      expect(admits.length).toBeGreaterThanOrEqual(1);
      expect(admits.every((m) => m.endsWith(`:${r.batch}`))).toBe(true);
      expect(active).toBe(admits.length * r.batch);
    }
    report(
      `cluster rooms: 3 rooms on masters ${rooms.map((r) => r.master).join(", ")}, each admitted exactly its batch (${batches.join("/")}) per tick`,
    );
  }, 60_000);
});
