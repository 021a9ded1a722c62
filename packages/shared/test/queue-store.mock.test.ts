import RedisMock from "ioredis-mock";
import type Redis from "ioredis";
import { QueueStore } from "../src/queue-store";
import { AppError } from "../src/errors";

// Unit tests of the queue logic on ioredis-mock (an in-memory Redis that runs the Lua scripts),
// with an injected clock so that ticks, idleness and expiry need no sleeping.
let now = 1_700_000_000_000;
const advance = (ms: number) => {
  now += ms;
};

function newStore(overrides: Partial<ConstructorParameters<typeof QueueStore>[1]> = {}) {
  const redis = new RedisMock() as unknown as Redis;
  const store = new QueueStore(redis, {
    name: `unit-${Math.random().toString(36).slice(2)}`,
    activeTtlSec: 60,
    idleTtlSec: 60,
    paymentReplaySec: 300,
    clock: () => now,
    ...overrides,
  });
  return { redis, store };
}

const settings = { tickMs: 10, batch: 2, maxActive: 3 };
const nextSlot = () => advance(settings.tickMs);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return "no refusal";
}

describe("queue store (ioredis-mock)", () => {
  it("gives ranks in arrival order and the same token when a user asks again", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    const again = await store.issue(1);
    expect([a.rank, b.rank]).toEqual([1, 2]);
    expect(again).toEqual(a);
    expect(a.token).not.toEqual(b.token);
  });

  it("admits at most the batch per tick, from the head, never beyond maxActive", async () => {
    const { store } = newStore();
    const tokens = [];
    for (let u = 1; u <= 6; u++) tokens.push((await store.issue(u)).token);
    const first = await store.tick(settings);
    expect(first).toMatchObject({ ran: true, admitted: 2 });
    expect((await store.poll(1, tokens[0])).status).toBe("IN_PROGRESS");
    expect((await store.poll(2, tokens[1])).status).toBe("IN_PROGRESS");
    expect(await store.poll(3, tokens[2])).toMatchObject({ status: "WAITING", rank: 1 });
    nextSlot();
    expect((await store.tick(settings)).admitted).toBe(1); // cap 3
    nextSlot();
    expect((await store.tick(settings)).admitted).toBe(0);
    expect(await store.counts()).toEqual({ waiting: 3, active: 3 });
  });

  it("runs a slot's tick only once however often it is called", async () => {
    const { store } = newStore();
    for (let u = 1; u <= 10; u++) await store.issue(u);
    const slow = { ...settings, tickMs: 60_000, maxActive: 100 };
    const results = await Promise.all([store.tick(slow), store.tick(slow), store.tick(slow)]);
    expect(results.filter((r) => r.ran)).toHaveLength(1);
    expect((await store.counts()).active).toBe(2);
  });

  it("refuses an unknown token (TOKEN_INVALID) and another user's token (TOKEN_USER_MISMATCH)", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    expect(await codeOf(store.poll(1, "00000000-0000-4000-8000-000000000000"))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.poll(2, a.token))).toBe("TOKEN_USER_MISMATCH");
  });

  it("keeps a waiting token off protected routes (TOKEN_NOT_ACTIVE) and lets an admitted one through", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_NOT_ACTIVE");
    await store.tick(settings);
    expect(await store.authorize(a.token)).toMatchObject({ userId: 1, replay: false });
  });

  it("drops waiting tokens that stopped polling instead of admitting them", async () => {
    const { store } = newStore({ idleTtlSec: 30 });
    const idle = await store.issue(1);
    const alive = await store.issue(2);
    advance(30_001);
    await store.poll(2, alive.token); // heartbeat
    const r = await store.tick(settings);
    expect(r).toMatchObject({ evicted: 1, admitted: 1 });
    expect(await store.totals()).toMatchObject({ evicted: 1, admitted: 1, ticks: 1 });
    expect(await store.poll(1, idle.token)).toEqual({ status: "FINISHED", reason: "evicted" });
    expect((await store.poll(2, alive.token)).status).toBe("IN_PROGRESS");
    // the evicted user may queue again, at the back
    const again = await store.issue(1);
    expect(again.token).not.toBe(idle.token);
  });

  it("expires an active token after its TTL and gives its slot to the next user", async () => {
    const { store } = newStore({ activeTtlSec: 60, idleTtlSec: 3600 });
    const a = await store.issue(1);
    const b = await store.issue(2);
    await store.tick({ ...settings, maxActive: 1 });
    advance(59_999);
    expect((await store.poll(1, a.token)).status).toBe("IN_PROGRESS");
    advance(1);
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_INVALID");
    nextSlot();
    await store.tick({ ...settings, maxActive: 1 });
    expect((await store.poll(1, a.token)).status).toBe("FINISHED");
    expect((await store.poll(2, b.token)).status).toBe("IN_PROGRESS");
  });

  it("extends an active token to cover a hold, and finishing it by payment opens a replay window", async () => {
    const { store } = newStore({ paymentReplaySec: 60 });
    const a = await store.issue(1);
    await store.tick(settings);
    const until = now + 3_600_000;
    expect(await store.extendActive(a.token, until)).toBe(true);
    expect((await store.poll(1, a.token)) as { expiresAt: number }).toMatchObject({ status: "IN_PROGRESS", expiresAt: until });
    expect(await store.finish(a.token, "paid")).toBe(true);
    expect(await store.finish(a.token, "paid")).toBe(false);
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "paid" });
    expect(await store.authorize(a.token)).toEqual({ userId: 1, replay: true });
    expect(await store.extendActive(a.token, until)).toBe(false);
    const next = await store.issue(1);
    expect(next.token).not.toBe(a.token);
  });
});

describe("wait estimate inputs", () => {
  it("measures admissions per second over the last minute", async () => {
    const { store } = newStore();
    for (let u = 1; u <= 20; u++) await store.issue(u);
    const s = { tickMs: 1000, batch: 4, maxActive: 100 };
    for (let i = 0; i < 3; i++) {
      await store.tick(s);
      advance(1000);
    }
    const last = await store.issue(99);
    // 12 admitted over a 3-second window
    expect(await store.poll(99, last.token)).toEqual({ status: "WAITING", rank: 9, ratePerSec: 4 });
  });
});
