import RedisMock from "ioredis-mock";
import type Redis from "ioredis";
import { QueueStore, QueueTokens, newQueueToken, tokenUserId } from "../src/queue-store";
import { AppError } from "../src/errors";
import { createRedis } from "../src/redis";
import { MAX_ID, uuid } from "../src/api";

// Unit tests of the queue logic on ioredis-mock (an in-memory Redis that runs the Lua scripts),
// with an injected clock so that ticks, idleness and expiry need no sleeping.
let now = 1_700_000_000_000;
const advance = (ms: number) => {
  now += ms;
};

// each mock client listens on ioredis-mock's shared data; disconnecting drops the listener
const clients: Redis[] = [];
afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));

function newStore(overrides: Partial<ConstructorParameters<typeof QueueStore>[1]> = {}) {
  const redis = new RedisMock();
  clients.push(redis);
  const store = new QueueStore(redis, {
    name: `unit-${Math.random().toString(36).slice(2)}`,
    activeTtlSec: 60,
    sessionMaxSec: 60,
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
  it("gives ranks in arrival order and the same token when a user asks again presenting it", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    const again = await store.issue(1, undefined, { presentedToken: a.token });
    expect([a.rank, b.rank]).toEqual([1, 2]);
    // the same place, handed back (not made) by this issue
    expect([a.created, again]).toEqual([true, { ...a, created: false }]);
    expect(a.token).not.toEqual(b.token);
  });

  /** What a refused issue must leave alone: the waiting order, heartbeats, live tokens and the arrival counter. */
  async function queueState(redis: Redis, store: QueueStore) {
    const k = store.keys;
    return {
      waiting: await redis.zrange(k.waiting, 0, -1, "WITHSCORES"),
      seen: await redis.zrange(k.seen, 0, -1, "WITHSCORES"),
      active: await redis.zrange(k.active, 0, -1, "WITHSCORES"),
      users: await redis.hgetall(k.users),
      seq: await redis.get(k.seq),
    };
  }

  it("refuses a waiting user's token to a caller who only names the user (ALREADY_QUEUED), changing nothing", async () => {
    const { redis, store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    advance(1_000); // a heartbeat the refusal wrote would show as a new score in `seen`
    const before = await queueState(redis, store);
    expect(await codeOf(store.issue(1))).toBe("ALREADY_QUEUED");
    expect(await codeOf(store.issue(1, undefined, { presentedToken: b.token }))).toBe("ALREADY_QUEUED");
    expect(await codeOf(store.issue(1, undefined, { presentedToken: newQueueToken(1) }))).toBe("ALREADY_QUEUED");
    expect(await queueState(redis, store)).toEqual(before);
    expect(await store.poll(1, a.token)).toMatchObject({ status: "WAITING", rank: 1 });
  });

  it("refuses an admitted user's token too, and gives it to the caller presenting it or verified", async () => {
    const { redis, store } = newStore();
    const a = await store.issue(1);
    await store.tick(settings);
    const before = await queueState(redis, store);
    expect(await codeOf(store.issue(1))).toBe("ALREADY_QUEUED");
    expect(await queueState(redis, store)).toEqual(before);
    const admitted = { token: a.token, status: "IN_PROGRESS", rank: null, created: false };
    expect(await store.issue(1, undefined, { presentedToken: a.token })).toEqual(admitted);
    expect(await store.issue(1, undefined, { verified: true })).toEqual(admitted);
  });

  it("gives a verified caller the waiting user's live token and place without the token", async () => {
    const { store } = newStore();
    await store.issue(2);
    const a = await store.issue(1);
    expect(await store.issue(1, undefined, { verified: true })).toEqual({ ...a, created: false });
  });

  it("withdraws a place its issue made while it still waits; keeps another token's place and an admitted one", async () => {
    const { store, redis } = newStore();
    const a = await store.issue(1);
    await store.issue(2);
    const before = await queueState(redis, store);
    expect(await store.withdraw(2, a.token)).toBe(false); // not user 2's live token
    expect(await queueState(redis, store)).toEqual(before);
    expect(await store.withdraw(1, a.token)).toBe(true);
    expect(await redis.hget(store.keys.users, "1")).toBeNull();
    expect(await redis.zrange(store.keys.waiting, 0, -1)).toEqual(["2"]);
    expect(await redis.zscore(store.keys.seen, "1")).toBeNull();
    // admitted meanwhile: it stays
    const c = await store.issue(3);
    await store.tick({ ...settings, batch: 5 });
    expect(await store.withdraw(3, c.token)).toBe(false);
    expect(await redis.hget(store.keys.users, "3")).toBe(c.token);
  });

  it("makes exactly one place when 20 issues for one user arrive at once: one gets the token, the rest ALREADY_QUEUED", async () => {
    const { redis, store } = newStore();
    const codes = await Promise.all(Array.from({ length: 20 }, () => codeOf(store.issue(7))));
    expect(codes.filter((c) => c === "no refusal")).toHaveLength(1);
    expect(codes.filter((c) => c === "ALREADY_QUEUED")).toHaveLength(19);
    expect(await redis.zrange(store.keys.waiting, 0, -1)).toEqual(["7"]);
    expect(Object.keys(await redis.hgetall(store.keys.users))).toEqual(["7"]);
  });

  it("gives a user whose token finished a new one without proof, and ignores the old token presented", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    await store.finish(a.token, "paid");
    const again = await store.issue(1, undefined, { presentedToken: a.token });
    expect(again).toMatchObject({ status: "WAITING", rank: 1 });
    expect(again.token).not.toBe(a.token);
    expect(await codeOf(store.issue(1, undefined, { presentedToken: a.token }))).toBe("ALREADY_QUEUED");
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

  it("keeps an active token alive for a span from the script's clock (keepActiveFor), never shortening it, and not a finished one", async () => {
    const { redis, store } = newStore({ paymentReplaySec: 60 });
    const tokens = new QueueTokens(redis, { name: store.keys.prefix.slice(3, -2), paymentReplaySec: 60, clock: () => now });
    const a = await store.issue(1);
    await store.tick(settings);
    advance(1_000);
    const holdEnds = now + 600_000;
    expect(await tokens.keepActiveFor(a.token, 600_000)).toBe(true);
    expect(await store.poll(1, a.token)).toEqual({ status: "IN_PROGRESS", expiresAt: holdEnds });
    advance(1_000);
    expect(await tokens.keepActiveFor(a.token, 5_000)).toBe(true); // a shorter span leaves the later expiry
    expect(await store.poll(1, a.token)).toEqual({ status: "IN_PROGRESS", expiresAt: holdEnds });
    expect(await tokens.finish(a.token, "paid")).toBe(true);
    expect(await tokens.keepActiveFor(a.token, 600_000)).toBe(false);
  });

  it("lets booking extend and finish a token with QueueTokens, which needs only the queue name and the replay window", async () => {
    const { redis, store } = newStore({ paymentReplaySec: 60 });
    const tokens = new QueueTokens(redis, { name: store.keys.prefix.slice(3, -2), paymentReplaySec: 60, clock: () => now });
    expect(tokens.keys).toEqual(store.keys);
    const a = await store.issue(1);
    await store.tick(settings);
    expect(await tokens.extendActive(a.token, now + 3_600_000)).toBe(true);
    expect(await store.poll(1, a.token)).toMatchObject({ status: "IN_PROGRESS", expiresAt: now + 3_600_000 });
    expect(await tokens.finish(a.token, "paid")).toBe(true);
    expect(await store.authorize(a.token)).toEqual({ userId: 1, replay: true });
  });
});

describe("session cap (ACTIVE_SESSION_MAX_SEC)", () => {
  const capped = { activeTtlSec: 10, sessionMaxSec: 30, idleTtlSec: 3600 };
  const one = { ...settings, maxActive: 1 };

  it("ends a session at its cap however often it is used, and gives the slot to the head of the queue", async () => {
    const { store } = newStore(capped);
    const a = await store.issue(1);
    const b = await store.issue(2);
    const admittedAt = now;
    await store.tick(one);
    const expiries = [];
    for (let t = 3_000; t < 30_000; t += 3_000) {
      advance(3_000);
      expiries.push(((await store.authorize(a.token)) as { expiresAt: number }).expiresAt);
    }
    // it slid with every use until the cap, and never past it
    expect(expiries.slice(0, 3)).toEqual([13_000, 16_000, 19_000].map((ms) => admittedAt + ms));
    expect(Math.max(...expiries)).toBe(admittedAt + 30_000);
    advance(3_000); // the cap has passed: one more request
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_INVALID");
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "expired" });
    nextSlot();
    expect(await store.tick(one)).toMatchObject({ admitted: 1 });
    expect((await store.poll(2, b.token)).status).toBe("IN_PROGRESS");
    expect(await store.counts()).toEqual({ waiting: 0, active: 1 });
  });

  it("frees the slot at the cap even when nobody asks about the token: the tick expires it", async () => {
    const { store } = newStore(capped);
    const a = await store.issue(1);
    await store.issue(2);
    await store.tick(one);
    for (let i = 0; i < 9; i++) {
      advance(3_000);
      await store.authorize(a.token);
    }
    advance(3_000);
    nextSlot();
    expect(await store.tick(one)).toMatchObject({ expired: 1, admitted: 1 });
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "expired" });
  });

  it("lets a hold carry a session past its cap for paying only: other routes are refused and renew nothing", async () => {
    const { redis, store } = newStore(capped);
    const a = await store.issue(1);
    await store.tick(one);
    const cap = now + 30_000;
    advance(29_000);
    const holdEnds = now + 300_000; // a hold made a second before the cap
    expect(await store.extendActive(a.token, holdEnds)).toBe(true);
    advance(2_000); // past the cap
    const score = async () => Number(await redis.zscore(store.keys.active, a.token));
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_INVALID");
    expect(await score()).toBe(holdEnds);
    expect(await store.authorize(a.token, { overtimeOk: true })).toEqual({ userId: 1, expiresAt: holdEnds, replay: false });
    expect(await score()).toBe(holdEnds);
    expect(await store.poll(1, a.token)).toEqual({ status: "IN_PROGRESS", expiresAt: holdEnds });
    expect(Number(await redis.hget(`${store.keys.prefix}t:${a.token}`, "cap"))).toBe(cap);
    // the hold ran out unpaid: the token ends with it
    advance(holdEnds - now);
    expect(await codeOf(store.authorize(a.token, { overtimeOk: true }))).toBe("TOKEN_INVALID");
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "expired" });
  });

  it("before the cap, a hold's extension stands and a use does not shorten it", async () => {
    const { store } = newStore(capped);
    const a = await store.issue(1);
    await store.tick(one);
    advance(5_000);
    const holdEnds = now + 300_000;
    await store.extendActive(a.token, holdEnds);
    advance(5_000);
    expect(await store.authorize(a.token)).toMatchObject({ expiresAt: holdEnds });
  });

  it("caps a token admitted before caps existed from its first use", async () => {
    const { redis, store } = newStore(capped);
    const a = await store.issue(1);
    await store.tick(one);
    await redis.hdel(`${store.keys.prefix}t:${a.token}`, "cap");
    advance(5_000);
    const firstUse = now;
    await store.authorize(a.token);
    expect(Number(await redis.hget(`${store.keys.prefix}t:${a.token}`, "cap"))).toBe(firstUse + 30_000);
    for (let i = 0; i < 10; i++) {
      advance(3_000);
      await store.authorize(a.token).catch(() => {});
    }
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "expired" });
  });

  it("starts a session no longer than its cap when the cap is shorter than the active TTL", async () => {
    const { store } = newStore({ activeTtlSec: 60, sessionMaxSec: 5 });
    const a = await store.issue(1);
    await store.tick(one);
    expect(await store.poll(1, a.token)).toEqual({ status: "IN_PROGRESS", expiresAt: now + 5_000 });
  });
});

describe("wait estimate inputs", () => {
  it("says when a full active set frees the slot each rank needs", async () => {
    const { store } = newStore({ activeTtlSec: 20, sessionMaxSec: 60 });
    const three = { ...settings, batch: 10 }; // maxActive 3
    for (let u = 1; u <= 3; u++) {
      await store.issue(u);
      await store.tick(three); // admitted at t, t+5 s, t+10 s: expiries t+20, t+25, t+30 s
      advance(5_000);
    }
    const waiting: string[] = [];
    for (let u = 4; u <= 8; u++) waiting.push((await store.issue(u)).token);
    // now = t+15 s
    const blocked = async (i: number) => ((await store.poll(i + 4, waiting[i], 3)) as { blocked?: unknown }).blocked;
    expect(await blocked(0)).toEqual({ inMs: 5_000, slotsAfter: 0 });
    expect(await blocked(1)).toEqual({ inMs: 10_000, slotsAfter: 0 });
    expect(await blocked(2)).toEqual({ inMs: 15_000, slotsAfter: 0 });
    expect(await blocked(4)).toEqual({ inMs: 15_000, slotsAfter: 2 });
    // room for two more: ranks 1 and 2 are not blocked, rank 3 waits for the earliest expiry
    expect(await store.poll(4, waiting[0], 5)).not.toHaveProperty("blocked");
    expect(await store.poll(5, waiting[1], 5)).not.toHaveProperty("blocked");
    expect(((await store.poll(6, waiting[2], 5)) as { blocked?: unknown }).blocked).toEqual({ inMs: 5_000, slotsAfter: 0 });
    // without a limit the poll does not look
    expect(await store.poll(4, waiting[0])).not.toHaveProperty("blocked");
    // the issue answer says the same, for a new user and for one asking again
    expect(await store.issue(9, 3)).toMatchObject({ rank: 6, blocked: { inMs: 15_000, slotsAfter: 3 } });
    const resume = { presentedToken: waiting[0] };
    expect(await store.issue(4, 3, resume)).toMatchObject({ rank: 1, blocked: { inMs: 5_000, slotsAfter: 0 } });
    expect(await store.issue(4, 5, resume)).not.toHaveProperty("blocked");
  });

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

describe("queue tokens (UUIDv8 carrying the user id)", () => {
  it("are lowercase RFC 9562 v8 UUIDs whose last 8 hex digits are the user id, the rest random", () => {
    const tokens = [1, 255, 1_000_000, MAX_ID].map((u) => newQueueToken(u));
    for (const t of tokens) {
      expect(t).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(uuid.safeParse(t).success).toBe(true);
    }
    expect(tokens.map(tokenUserId)).toEqual([1, 255, 1_000_000, MAX_ID]);
    expect(tokens[2].slice(28)).toBe("000f4240");
    expect(newQueueToken(7)).not.toBe(newQueueToken(7));
    expect(() => newQueueToken(0)).toThrow(RangeError);
    expect(() => newQueueToken(MAX_ID + 1)).toThrow(RangeError);
  });

  it("decode to no user when not v8-shaped", () => {
    for (const t of [
      "6f1c3b1e-8d7a-4a3c-9d2e-00000000002a", // v4
      "6f1c3b1e-8d7a-8a3c-cd2e-00000000002a", // wrong variant
      "6f1c3b1e-8d7a-8a3c-9d2e-000000000000", // user 0
      "6f1c3b1e-8d7a-8a3c-9d2e-0000ffffffff", // beyond 2^31-1
      "6F1C3B1E-8D7A-8A3C-9D2E-00000000002A", // not lowercase
      "not-a-token",
    ])
      expect(tokenUserId(t)).toBeNull();
  });
});

describe("queue layout: a waiting user has no key of their own", () => {
  it("keeps waiting users in waiting/seen/users only; an admitted token gets its t: hash", async () => {
    const { redis, store } = newStore();
    const a = await store.issue(1);
    await store.issue(22);
    const k = store.keys;
    expect((await redis.keys(`${k.prefix}*`)).sort()).toEqual([k.seen, k.seq, k.users, k.waiting].sort());
    expect(await redis.zrange(k.waiting, 0, -1)).toEqual(["1", "22"]);
    expect(await redis.hgetall(k.users)).toEqual({ "1": a.token, "22": expect.any(String) });
    expect(tokenUserId(a.token)).toBe(1);
    await store.tick({ ...settings, batch: 1 });
    expect(await redis.hgetall(`${k.prefix}t:${a.token}`)).toEqual({ u: "1", st: "A", cap: String(now + 60_000) });
    expect(await redis.zrange(k.active, 0, -1)).toEqual([a.token]);
    expect(await redis.zrange(k.seen, 0, -1)).toEqual(["22"]);
  });

  it("orders arrivals strictly even within one millisecond or when the clock steps back", async () => {
    const { redis, store } = newStore();
    const ranks = [];
    for (let u = 1; u <= 5; u++) ranks.push((await store.issue(u)).rank);
    advance(-5_000);
    ranks.push((await store.issue(6)).rank);
    advance(5_000);
    expect(ranks).toEqual([1, 2, 3, 4, 5, 6]);
    const scores = (await redis.zrange(store.keys.waiting, 0, -1, "WITHSCORES")).filter((_, i) => i % 2 === 1).map(Number);
    expect(scores).toEqual([now * 1000, now * 1000 + 1, now * 1000 + 2, now * 1000 + 3, now * 1000 + 4, now * 1000 + 5]);
  });

  it("answers how long the head has waited from its arrival score", async () => {
    const { store } = newStore();
    expect((await store.stats()).oldestWaitSec).toBeNull();
    await store.issue(1);
    advance(42_000);
    await store.issue(2);
    expect(await store.stats()).toMatchObject({ waiting: 2, active: 0, oldestWaitSec: 42 });
  });

  it("refuses a waiting token presented for another user (403) and a v8 token nobody holds (401)", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    expect(await codeOf(store.poll(2, a.token))).toBe("TOKEN_USER_MISMATCH");
    expect(await codeOf(store.poll(1, b.token))).toBe("TOKEN_USER_MISMATCH");
    const forged = newQueueToken(1);
    expect(await codeOf(store.poll(1, forged))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.poll(2, forged))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.poll(3, newQueueToken(3)))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.authorize(forged))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.authorize(b.token))).toBe("TOKEN_NOT_ACTIVE");
    expect(await store.finish(forged, "cancelled")).toBe(false);
    expect(await store.extendActive(b.token, now + 60_000)).toBe(false);
    expect(await store.poll(2, b.token)).toMatchObject({ status: "WAITING", rank: 2 });
    // nothing the refusals touched changed: both still wait, in order, nobody active
    expect(await store.poll(1, a.token)).toMatchObject({ status: "WAITING", rank: 1 });
    expect(await store.counts()).toEqual({ waiting: 2, active: 0 });
  });

  it("evicts an idle user from the middle of the queue: the rest move up, the evicted token answers FINISHED", async () => {
    const { store } = newStore({ idleTtlSec: 30 });
    const a = await store.issue(1);
    const idle = await store.issue(2);
    const c = await store.issue(3);
    advance(30_001);
    await store.poll(1, a.token);
    await store.poll(3, c.token);
    expect(await store.tick({ ...settings, batch: 0 })).toMatchObject({ evicted: 1, admitted: 0 });
    expect(await store.poll(3, c.token)).toMatchObject({ status: "WAITING", rank: 2 });
    expect(await store.poll(2, idle.token)).toEqual({ status: "FINISHED", reason: "evicted" });
    expect(await codeOf(store.poll(1, idle.token))).toBe("TOKEN_USER_MISMATCH");
    expect(await codeOf(store.authorize(idle.token))).toBe("TOKEN_INVALID");
    expect(await store.counts()).toEqual({ waiting: 2, active: 0 });
    const again = await store.issue(2);
    expect(again).toMatchObject({ status: "WAITING", rank: 3 });
    expect(again.token).not.toBe(idle.token);
    // the old token's record does not touch the user's new place
    expect(await store.poll(2, idle.token)).toEqual({ status: "FINISHED", reason: "evicted" });
    expect(await store.poll(2, again.token)).toMatchObject({ status: "WAITING", rank: 3 });
  });

  it("finishes a waiting token: off the queue, answers FINISHED, the user may queue again at the back", async () => {
    const { store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    expect(await store.finish(a.token, "cancelled")).toBe(true);
    expect(await store.finish(a.token, "cancelled")).toBe(false);
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "cancelled" });
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_INVALID");
    expect(await store.poll(2, b.token)).toMatchObject({ status: "WAITING", rank: 1 });
    const again = await store.issue(1);
    expect(again).toMatchObject({ status: "WAITING", rank: 2 });
    expect(again.token).not.toBe(a.token);
  });

  it("gives a user whose admission expired a new token at the back, and keeps the old one answerable", async () => {
    const { store } = newStore({ activeTtlSec: 60, idleTtlSec: 3600 });
    const a = await store.issue(1);
    await store.issue(2);
    await store.tick({ ...settings, batch: 1 });
    expect(await store.issue(1, undefined, { presentedToken: a.token })).toEqual({
      token: a.token,
      status: "IN_PROGRESS",
      rank: null,
      created: false,
    });
    advance(60_000);
    const again = await store.issue(1);
    expect(again).toMatchObject({ status: "WAITING", rank: 2 });
    expect(again.token).not.toBe(a.token);
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "expired" });
    expect(await store.counts()).toEqual({ waiting: 2, active: 0 });
  });

  it("admits more than one chunk (1,000) in a tick, exactly the head", async () => {
    const { redis, store } = newStore();
    // a long queue laid out directly (issuing 2,300 through ioredis-mock's Lua would take seconds)
    const tokens = Array.from({ length: 2_300 }, (_, i) => newQueueToken(i + 1));
    const k = store.keys;
    await redis.zadd(k.waiting, ...tokens.flatMap((_, i) => [now * 1000 + i, String(i + 1)]));
    await redis.zadd(k.seen, ...tokens.flatMap((_, i) => [now, String(i + 1)]));
    await redis.hset(k.users, Object.fromEntries(tokens.map((t, i) => [String(i + 1), t])));
    expect(await store.poll(2_300, tokens[2_299])).toMatchObject({ status: "WAITING", rank: 2_300 });
    const r = await store.tick({ tickMs: 10, batch: 2_100, maxActive: 10_000 });
    expect(r).toMatchObject({ admitted: 2_100 });
    const active = new Set(await redis.zrange(store.keys.active, 0, -1));
    expect(active.size).toBe(2_100);
    expect(tokens.slice(0, 2_100).every((t) => active.has(t))).toBe(true);
    expect(await store.poll(2_101, tokens[2_100])).toMatchObject({ status: "WAITING", rank: 1 });
    expect(await redis.zcard(store.keys.seen)).toBe(200);
  });

  it("survives a user whose entries Redis lost: the token is unknown, the tick skips the user", async () => {
    const { redis, store } = newStore();
    const a = await store.issue(1);
    const b = await store.issue(2);
    await redis.hdel(store.keys.users, "1");
    expect(await codeOf(store.poll(1, a.token))).toBe("TOKEN_INVALID");
    expect(await codeOf(store.authorize(a.token))).toBe("TOKEN_INVALID");
    expect(await store.tick(settings)).toMatchObject({ admitted: 1 });
    expect((await store.poll(2, b.token)).status).toBe("IN_PROGRESS");
    expect(await store.issue(1)).toMatchObject({ status: "WAITING", rank: 1 });
  });
});

describe("queue store when Redis is unreachable", () => {
  it("marks the failure as DependencyError(redis) where it arises, for scripts and plain commands alike", async () => {
    // nothing listens on port 1; with no offline queue, every command fails at once
    const redis = createRedis("redis://127.0.0.1:1");
    const store = new QueueStore(redis, { name: "unreachable", activeTtlSec: 60, idleTtlSec: 60, paymentReplaySec: 60 });
    try {
      const calls = [
        () => store.poll(1, newQueueToken(1)),
        () => store.finish(newQueueToken(1), "paid"),
        () => store.counts(),
        () => store.getOverrides(),
      ];
      for (const call of calls) await expect(call()).rejects.toMatchObject({ name: "DependencyError", dependency: "redis" });
    } finally {
      redis.disconnect();
    }
  });
});
