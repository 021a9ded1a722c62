// Scenario 2: rank-poll latency against queue size. Three queues (1k, 100k, 1M waiting tokens;
// see below) live side by side in our Redis, each behind its own gateway instance,
// and are polled in alternating rounds with the same client and concurrency, each poll for a
// random waiting user spread over the whole queue (--quick: 1k, 10k, 50k). Also: Redis memory per waiting user, from
// `INFO memory` before and after filling the largest queue.
import { httpClient, load, median, percentile } from "../lib.mjs";

export const id = 2;
export const title = "Rank poll latency vs queue size; Redis memory per waiting user";

const fmt = (n) => n.toLocaleString("en-US");

/** Issues tokens for users 1..n through the QueueStore (pipelined), keeps ~2,000 samples. */
export async function fill(store, n, log) {
  const step = Math.max(1, Math.floor(n / 2000));
  const samples = [];
  const batch = 5000;
  const t0 = Date.now();
  for (let from = 1; from <= n; from += batch) {
    const to = Math.min(n, from + batch - 1);
    const ps = [];
    for (let u = from; u <= to; u++) ps.push(store.issue(u));
    const rs = await Promise.all(ps);
    for (let u = from; u <= to; u++) if ((u - 1) % step === 0) samples.push({ u, token: rs[u - from].token });
  }
  log(`filled ${fmt(n)} waiting tokens in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  return samples;
}

async function usedMemory(redis) {
  return Number(/used_memory:(\d+)/.exec(await redis.info("memory"))[1]);
}

export async function run(ctx, handoff) {
  const sizes = ctx.quick ? [1_000, 10_000, 50_000] : [1_000, 100_000, 1_000_000];
  const rounds = ctx.quick ? 2 : 3;
  const durationMs = ctx.quick ? 1_500 : 5_000;
  const concurrency = 8;
  const big = sizes[sizes.length - 1];

  const queues = [];
  for (const n of sizes) {
    const name = `s2-${n}`;
    const { store, client } = ctx.queueStore(name);
    let before = 0;
    if (n === big) {
      await ctx.redis.memory("PURGE").catch(() => {});
      before = await usedMemory(ctx.redis);
    }
    const samples = await fill(store, n, ctx.log);
    let perUser = null;
    if (n === big) perUser = ((await usedMemory(ctx.redis)) - before) / n;
    queues.push({ n, name, store, client, samples, perUser });
  }
  // the Redis side alone: the poll script called directly (no HTTP), sequentially
  for (const q of queues) {
    const lat = [];
    for (let i = 0; i < (ctx.quick ? 500 : 2000); i++) {
      const s = q.samples[(i * 7919) % q.samples.length];
      const t = process.hrtime.bigint();
      await q.store.poll(s.u, s.token);
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    lat.sort((a, b) => a - b);
    q.direct = { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  }

  for (const q of queues) {
    q.gateway = await ctx.startGateway({ QUEUE_NAME: q.name });
    q.client = httpClient(q.gateway.url, { maxSockets: concurrency });
    q.runs = [];
  }
  const pick = (q) => q.samples[Math.floor(Math.random() * q.samples.length)];
  const run1 = (q, ms) =>
    load({
      client: q.client,
      concurrency,
      durationMs: ms,
      pids: [q.gateway.pid, ctx.redisServer.pid],
      next: () => {
        const s = pick(q);
        return { path: `/api/users/${s.u}/token`, headers: { token: s.token }, u: s.u };
      },
      check: (r) => r.status === 200 && r.json?.result?.status === "WAITING" && r.json.result.rank >= 1,
    });
  for (const q of queues) await run1(q, ctx.quick ? 500 : 1000); // warm-up
  for (let round = 0; round < rounds; round++) for (const q of queues) q.runs.push(await run1(q, durationMs));
  for (const q of queues) {
    q.client.close();
    await q.gateway.stop();
  }

  const m = queues.map((q) => ({
    n: q.n,
    rps: median(q.runs.map((r) => r.rps)),
    p50: median(q.runs.map((r) => r.p50)),
    p99: median(q.runs.map((r) => r.p99)),
    cpuUs: median(q.runs.map((r) => r.cpuUsPerReq)),
    bad: q.runs.reduce((a, r) => a + r.bad, 0),
    direct: q.direct,
  }));
  const small = m[0];
  const rows = m.map((x, i) => {
    const ratio = x.p50 / small.p50;
    const last = i === m.length - 1;
    return {
      name: `rank poll, ${fmt(x.n)} waiting`,
      rps: x.rps,
      p50: x.p50,
      p99: x.p99,
      cpuUs: x.cpuUs,
      cpuDetail: "gw + redis",
      result: `p50 ${ratio.toFixed(2)}× the 1k p50 (Redis side alone: p50 ${x.direct.p50.toFixed(3)} ms, p99 ${x.direct.p99.toFixed(3)} ms)${x.bad ? `, ${x.bad} bad answers` : ""}`,
      target: last ? `p50 ≤ 1.3 × p50 at 1k${ctx.quick ? " (quick: at 50k)" : ""}` : "",
      met: last ? ratio <= 1.3 && x.bad === 0 : x.bad === 0 ? null : false,
    };
  });
  const perUser = queues[queues.length - 1].perUser;
  rows.push({
    name: `Redis memory per waiting user (${fmt(big)} queue)`,
    result: `${perUser.toFixed(0)} bytes`,
    target: "≤ 350 bytes",
    met: perUser <= 350,
    limits:
      perUser > 350
        ? "Key layout per waiting user (packages/shared/src/queue-store/keys.ts): one entry in each of the waiting and seen sorted sets (member = user id) and one field of the users hash (user id → token); no key of its own. What is left is Redis's per-entry overhead (dictEntry, skiplist node, SDS headers)"
        : undefined,
  });

  // hand the largest queue to scenario 3 (admission from a full queue)
  handoff.bigQueue = { name: queues[queues.length - 1].name, size: big };
  for (const q of queues.slice(0, -1)) {
    let cursor = "0";
    do {
      const [c, keys] = await ctx.redis.scan(cursor, "MATCH", `{q:${q.name}}:*`, "COUNT", 5000);
      cursor = c;
      if (keys.length) await ctx.redis.unlink(...keys);
    } while (cursor !== "0");
  }
  return {
    rows,
    chart: {
      sizes: m.map((x) => x.n),
      p50: m.map((x) => x.p50),
      p99: m.map((x) => x.p99),
      directP50: m.map((x) => x.direct.p50),
      concurrency,
      quick: ctx.quick,
    },
    notes: [
      `${rounds} alternating rounds × ${durationMs / 1000}s per queue size, ${concurrency} keep-alive connections (closed loop), each poll for a random one of ~2,000 users spread over the queue; medians. ` +
        `'Redis side alone' = the poll script called sequentially from the bench client (no HTTP).`,
      `Memory: (used_memory after − before filling the ${fmt(big)} queue) ÷ ${fmt(big)}.`,
    ],
  };
}
