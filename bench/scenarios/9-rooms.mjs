// Scenario 9 (issue 14): 100 concert rooms with 10,000 waiting each (--quick: 1,000) next to one
// room alone with as many. The admission tick's cost per room and for all 100 (as one gateway's
// room loop runs them: all at once), the same for 100 idle rooms, and the rank poll's p50 in one
// of the 100 rooms against the room alone: directly on the poll script and over HTTP through a
// gateway, in the same run.
import { httpClient, load, median, percentile } from "../lib.mjs";

export const id = 9;
export const title = "Concert rooms: 100 rooms x 10,000 waiting";

const fmt = (n) => n.toLocaleString("en-US");

async function fillRoom(store, users, sampleEvery) {
  const samples = [];
  for (let from = 0; from < users.length; from += 5000) {
    const part = users.slice(from, from + 5000);
    const rs = await Promise.all(part.map((u) => store.issue(u)));
    part.forEach((u, i) => {
      if ((from + i) % sampleEvery === 0) samples.push({ u, token: rs[i].token });
    });
  }
  return samples;
}

export async function run(ctx) {
  const perRoom = ctx.quick ? 1_000 : 10_000;
  const roomsN = 100;
  const name = `s8-${Date.now().toString(36)}`;
  const settings = { tickMs: 10, batch: 100, maxActive: 10_000_000 };
  const users = Array.from({ length: perRoom }, (_, i) => i + 1);
  const t0 = Date.now();
  const alone = ctx.queueStore(name, { concertId: 1 });
  const aloneSamples = await fillRoom(alone.store, users, Math.max(1, Math.floor(perRoom / 200)));
  const rooms = [];
  for (let c = 0; c < roomsN; c++) {
    const r = ctx.queueStore(name, { concertId: 1001 + c });
    r.samples = await fillRoom(r.store, users, Math.max(1, Math.floor(perRoom / 20)));
    rooms.push(r);
  }
  const idle = Array.from({ length: roomsN }, (_, c) => ctx.queueStore(name, { concertId: 5001 + c }));
  ctx.log(`filled ${roomsN} rooms x ${fmt(perRoom)} + 1 room alone in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const timed = async (fn) => {
    const t = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  // rank poll first (before any tick admits anyone): the script alone (sequential round trips)
  const pollDirect = async (store, samples) => {
    const lat = [];
    for (let i = 0; i < (ctx.quick ? 500 : 2000); i++) {
      const s = samples[(i * 7919) % samples.length];
      lat.push(await timed(() => store.poll(s.u, s.token)));
    }
    return percentile(
      lat.sort((a, b) => a - b),
      50,
    );
  };
  const allSamples = rooms.flatMap((r) => r.samples);
  const manyStore = { poll: (u, token) => rooms[Number.parseInt(token.slice(0, 8), 16) - 1001].store.poll(u, token) };
  const directAlone = await pollDirect(alone.store, aloneSamples);
  const directMany = await pollDirect(manyStore, allSamples);

  // over HTTP through one gateway that knows the rooms (the registry booking would write)
  const registry = {};
  for (const c of [1, ...rooms.map((_, i) => 1001 + i)]) registry[c] = JSON.stringify({ name: `bench ${c}`, room: {} });
  await ctx.redis.hset(`rooms:${name}:concerts`, registry);
  const gw = await ctx.startGateway({ QUEUE_NAME: name, WAITING_IDLE_TTL_SEC: "86400" });
  const client = httpClient(gw.url, { maxSockets: 8 });
  const poll = (samples, ms) =>
    load({
      client,
      concurrency: 8,
      durationMs: ms,
      pids: [gw.pid, ctx.redisServer.pid],
      next: () => {
        const s = samples[Math.floor(Math.random() * samples.length)];
        return { path: `/api/users/${s.u}/token`, headers: { token: s.token }, u: s.u };
      },
      check: (r) => r.status === 200 && r.json?.result?.status === "WAITING" && r.json.result.rank >= 1,
    });
  await poll(aloneSamples, 500);
  const httpAlone = [];
  const httpMany = [];
  for (let i = 0; i < (ctx.quick ? 2 : 3); i++) {
    httpAlone.push(await poll(aloneSamples, ctx.quick ? 1500 : 3000));
    httpMany.push(await poll(allSamples, ctx.quick ? 1500 : 3000));
  }
  client.close();
  await gw.stop();
  const m = (runs, k) => median(runs.map((r) => r[k]));
  const bad = [...httpAlone, ...httpMany].reduce((a, r) => a + r.bad, 0);

  // ticks: each round is a new slot (tickMs 10); each tick admits 100 from its room
  const rounds = ctx.quick ? 3 : 5;
  const oneRoom = [];
  const allRooms = [];
  const perRoomInAll = [];
  const idleAll = [];
  const idleOne = [];
  for (let i = 0; i < rounds; i++) {
    await wait(12);
    oneRoom.push(await timed(() => alone.store.tick(settings)));
    await wait(12);
    const all = await timed(() => Promise.all(rooms.map((r) => r.store.tick(settings))));
    allRooms.push(all);
    perRoomInAll.push(all / roomsN);
    await wait(12);
    idleAll.push(await timed(() => Promise.all(idle.map((r) => r.store.tick(settings)))));
    await wait(12);
    idleOne.push(await timed(() => idle[0].store.tick(settings)));
  }

  const ms = (x) => `${x.toFixed(2)} ms`;
  return {
    rows: [
      {
        name: `room tick, 1 room alone (${fmt(perRoom)} waiting, batch 100)`,
        p50: median(oneRoom),
        result: `${ms(median(oneRoom))} round trip (median of ${rounds})`,
        target: "—",
        met: true,
      },
      {
        name: `room ticks, ${roomsN} rooms x ${fmt(perRoom)} waiting, all at once`,
        p50: median(allRooms),
        result: `all ${roomsN}: ${ms(median(allRooms))}, so ${ms(median(perRoomInAll))} per room (medians of ${rounds})`,
        target: "≤ a tick (QUEUE_TICK_MS ≥ 100 ms)",
        met: median(allRooms) < 100,
      },
      {
        name: `room ticks, ${roomsN} idle rooms, all at once`,
        p50: median(idleAll),
        result: `all ${roomsN}: ${ms(median(idleAll))}; one: ${ms(median(idleOne))} (an idle room is ticked once a second)`,
        target: "next to nothing",
        met: true,
      },
      {
        name: `rank poll in 1 of ${roomsN} rooms vs a room alone`,
        rps: m(httpMany, "rps"),
        p50: m(httpMany, "p50"),
        p99: m(httpMany, "p99"),
        result:
          `HTTP p50 ${ms(m(httpMany, "p50"))} vs ${ms(m(httpAlone, "p50"))} alone (${fmt(Math.round(m(httpMany, "rps")))} vs ${fmt(Math.round(m(httpAlone, "rps")))} req/s); ` +
          `script alone p50 ${ms(directMany)} vs ${ms(directAlone)}; non-2xx ${bad}`,
        target: "flat",
        met: m(httpMany, "p50") <= m(httpAlone, "p50") * 1.5 && bad === 0,
      },
    ],
    notes: [
      `${roomsN} rooms x ${fmt(perRoom)} waiting (one QueueStore per room, keys {q:<name>:c<id>}), ticks called from the bench client with batch 100 (each admits 100), a new slot per round; ` +
        "the rank polls: 8 connections through one gateway that reads the rooms from the registry hash, rounds alternating between a room of the 100 and the room alone.",
    ],
  };
}
