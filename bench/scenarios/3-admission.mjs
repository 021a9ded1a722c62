// Scenario 3: one admission tick admitting 1,000 tokens from a 1M queue (--quick: 50k), with
// 3 gateway instances ticking (batch 1,000, max active 1,000): the admitted count must be exactly
// 1,000 in total. The tick's time is taken two ways: inside Redis (SLOWLOG entry of the tick script
// that admitted, run by a gateway), and as the round trip of the same script called from the
// bench client on the same queue (median of several ticks, each admitting 1,000).
import { median, sleep } from "../lib.mjs";
import { fill } from "./2-queue-size.mjs";
// the tick script's declaration (its key count tells its calls apart in the slow log); the package
// index does not export the queue store's scripts
import { createRequire } from "node:module";
const { tickScript } = createRequire(import.meta.url)("../../packages/shared/dist/queue-store/scripts.js");

export const id = 3;
export const title = "Admission tick from a full queue, 3 gateways ticking";

export async function run(ctx, handoff) {
  const size = ctx.quick ? 50_000 : 1_000_000;
  let name = handoff.bigQueue?.size === size ? handoff.bigQueue.name : null;
  const tickMs = 500;
  if (!name) {
    name = `s3-${size}`;
    await fill(ctx.queueStore(name).store, size, ctx.log);
  }
  const { store, client } = ctx.queueStore(name);
  const k = store.keys;
  const waiting0 = await client.zcard(k.waiting);
  const active0 = await client.zcard(k.active);
  const r = ctx.redis;
  const oldSlow = await r.config("GET", "slowlog-log-slower-than");
  await r.config("SET", "slowlog-max-len", "100000");
  await r.config("SET", "slowlog-log-slower-than", "500"); // µs: only slow entries (Redis 7 also logs commands inside scripts)
  await r.slowlog("RESET");

  const gws = [];
  for (let i = 0; i < 3; i++)
    gws.push(
      await ctx.startGateway({
        QUEUE_NAME: name,
        ADMISSION_ENABLED: "true",
        QUEUE_ADMIT_BATCH: "1000",
        QUEUE_MAX_ACTIVE: "1000",
        QUEUE_TICK_MS: String(tickMs),
        WAITING_IDLE_TTL_SEC: "86400",
        ACTIVE_TOKEN_TTL_SEC: "600",
      }),
    );
  const deadline = Date.now() + 10_000;
  while ((await client.zcard(k.active)) < active0 + 1000 && Date.now() < deadline) await sleep(20);
  await sleep(tickMs * 4); // several more slots: nobody may admit beyond max active
  const active = await client.zcard(k.active);
  const waiting = await client.zcard(k.waiting);
  const totals = await store.totals();
  await Promise.all(gws.map((g) => g.stop()));

  const slow = await r.slowlog("GET", 100000);
  await r.config("SET", "slowlog-log-slower-than", oldSlow[1]);
  // entries: [id, time, durationUs, [cmd, ...args], ...]; the tick script has 8 keys
  const ticks = slow.filter((e) => /^eval(sha)?$/i.test(e[3][0]) && e[3][2] === String(tickScript.numberOfKeys)).map((e) => e[2]);
  const admittingUs = ticks.length ? Math.max(...ticks) : 500; // below the threshold: at most 0.5 ms

  // The same tick called from the bench client: round trip of ticks that each admit 1,000.
  const trips = [];
  for (let i = 0; i < (ctx.quick ? 3 : 7); i++) {
    await sleep(12);
    const t = process.hrtime.bigint();
    const res = await store.tick({ tickMs: 10, batch: 1000, maxActive: 10_000_000 });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (res.ran && res.admitted === 1000) trips.push(ms);
  }
  const tripMs = median(trips);

  // free the memory for the next scenarios
  await r.flushall();

  const exact = active - active0 === 1000 && waiting0 - waiting === 1000 && totals.admitted === 1000;
  const ms = admittingUs / 1000;
  return {
    rows: [
      {
        name: `admission tick: 1,000 of a ${size.toLocaleString("en-US")} queue, 3 gateways`,
        p50: tripMs,
        result:
          `admitted ${active - active0} (waiting −${waiting0 - waiting}, totals ${totals.admitted}) ` +
          `admitting tick ${ticks.length ? ms.toFixed(2) : "< 0.5"} ms inside Redis, ${tripMs.toFixed(2)} ms round trip (median of ${trips.length})`,
        target: "≤ 20 ms, exactly 1,000",
        met: exact && ms <= 20 && tripMs <= 20,
        limits:
          exact && ms <= 20 && tripMs <= 20
            ? undefined
            : "inside Redis: ZPOPMIN 1,000 (~1.1 ms in SLOWLOG) + 1,000 × (ZREM seen, HSET st, ZADD active) in Lua; on a loaded machine the single-threaded redis-server is preempted (single inner commands of 10 ms seen in SLOWLOG), so measure on a quiet machine",
      },
    ],
    notes: [
      `3 gateways with QUEUE_ADMIT_BATCH=1000, QUEUE_MAX_ACTIVE=1000, QUEUE_TICK_MS=${tickMs}, run for ${tickMs * 4} ms after the first admission; ` +
        "time inside Redis from SLOWLOG (threshold 500 µs during the scenario, the slowest tick script entry); the p50 column is the bench client's round trip of a 1,000-admitting tick on the same queue.",
    ],
  };
}
