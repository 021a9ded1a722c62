import RedisMock from "ioredis-mock";
import type Redis from "ioredis";
import { QueueStore, drawOrder, sha256Hex, verifyLottery, type SaleSchedule } from "../src/queue-store";

// The scheduled opening on ioredis-mock with an injected clock: the pre-queue, the lottery at the
// opening (once), later arrivals behind it, and the close.
let now = 1_800_000_000_000;
const clients: Redis[] = [];
afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));

const opensAt = now + 60_000;
const schedule: SaleSchedule = { opensAt, prequeueFrom: opensAt - 30_000, closesAt: opensAt + 600_000 };
const settings = { tickMs: 10, batch: 5, maxActive: 1000 };

function room(idleTtlSec = 60) {
  const redis = new RedisMock();
  clients.push(redis);
  const options = {
    name: `pre-${Math.random().toString(36).slice(2)}`,
    concertId: 42,
    activeTtlSec: 60,
    idleTtlSec,
    paymentReplaySec: 300,
  };
  const store = new QueueStore(redis, { ...options, clock: () => now });
  return { redis, store };
}
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code?: string; message?: string }) => e.code ?? e.message ?? "unknown",
  );

describe("a scheduled room", () => {
  beforeEach(() => {
    now = opensAt - 60_000;
  });

  it("refuses SALE_NOT_OPEN before its pre-queue window, then pre-queues without a rank", async () => {
    const { store } = room();
    expect(await codeOf(store.issue(1, 100, {}, schedule))).toBe("SALE_NOT_OPEN");
    now = schedule.prequeueFrom;
    const a = await store.issue(1, 100, {}, schedule);
    const b = await store.issue(2, 100, {}, schedule);
    expect(a).toMatchObject({ status: "PREQUEUED", rank: null, prequeueCount: 1, created: true });
    expect(b).toMatchObject({ status: "PREQUEUED", prequeueCount: 2 });
    // asking again with the token: the same place; without it: ALREADY_QUEUED
    expect(await store.issue(1, 100, { presentedToken: a.token }, schedule)).toMatchObject({
      token: a.token,
      status: "PREQUEUED",
      created: false,
    });
    expect(await codeOf(store.issue(1, 100, {}, schedule))).toBe("ALREADY_QUEUED");
    expect(await store.poll(2, b.token)).toEqual({ status: "PREQUEUED", prequeueCount: 2 });
    // nobody is admitted before the opening
    now += 1000;
    expect(await store.tick(settings, schedule)).toMatchObject({ ran: true, admitted: 0, waiting: 2 });
  });

  it("drops a pre-queued place whose heartbeats stop, and keeps one that polls", async () => {
    const { store } = room(10);
    now = schedule.prequeueFrom;
    const a = await store.issue(1, 100, {}, schedule);
    const b = await store.issue(2, 100, {}, schedule);
    now += 6_000;
    await store.poll(1, a.token);
    now += 6_000;
    await store.tick(settings, schedule);
    expect(await store.poll(1, a.token)).toMatchObject({ status: "PREQUEUED", prequeueCount: 1 });
    expect(await store.poll(2, b.token)).toEqual({ status: "FINISHED", reason: "evicted" });
    expect(await store.prequeued()).toBe(1);
  });

  it("draws the pre-queue once at the opening into ranks 1..N, later arrivals FIFO behind, and keeps an auditable record", async () => {
    const { store } = room();
    now = schedule.prequeueFrom;
    const tokens = new Map<number, string>();
    for (let u = 1; u <= 40; u++) tokens.set(u, (await store.issue(u, 1000, {}, schedule)).token);
    expect(await store.drawLottery(opensAt, "a")).toBeNull(); // not yet opensAt
    now = opensAt;
    // someone arriving after the opening but before the draw: behind the whole pre-queue already
    const late = await store.issue(100, 1000, {}, schedule);
    expect(late).toMatchObject({ status: "WAITING", rank: 41 });
    // admission waits for the draw
    expect(await store.tick(settings, schedule)).toMatchObject({ admitted: 0 });
    const record = await store.drawLottery(opensAt, "a");
    expect(record).not.toBeNull();
    expect(await store.drawLottery(opensAt, "b")).toBeNull(); // once
    const ranks = new Map<number, number>();
    for (const [u, t] of tokens) {
      const p = await store.poll(u, t);
      if (p.status !== "WAITING") throw new Error(`user ${u}: ${p.status}`);
      ranks.set(u, p.rank);
    }
    expect([...ranks.values()].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(await store.poll(100, late.token)).toMatchObject({ status: "WAITING", rank: 41 });
    const later = await store.issue(101, 1000, {}, schedule);
    expect(later.rank).toBe(42);
    // the record: the order by rank follows from its seed and participants
    const order = [...ranks].sort((x, y) => x[1] - y[1]).map(([u]) => u);
    expect(record!.participants).toBe(40);
    expect(record!.orderHash).toBe(sha256Hex(order.join(",")));
    expect(verifyLottery(record!, order)).toBe(true);
    expect(await store.lottery()).toEqual(record);
    expect(verifyLottery({ ...record!, seed: "00".repeat(32) }, order)).toBe(false);
    // admission starts after the draw, from rank 1
    now += 10;
    const tick = await store.tick(settings, schedule);
    expect(tick.admitted).toBe(5);
    const first = order[0];
    expect(await store.poll(first, tokens.get(first)!)).toMatchObject({ status: "IN_PROGRESS" });
  });

  it("after saleClosesAt refuses SALE_CLOSED and finishes the waiting CLOSED; admitted ones keep their session", async () => {
    const { store } = room();
    const closing = { ...schedule, closesAt: opensAt + 30_000 }; // within the admitted session (60 s)
    now = opensAt;
    const a = await store.issue(1, 1000, {}, closing);
    const b = await store.issue(2, 1000, {}, closing);
    await store.drawLottery(opensAt, "a");
    await store.tick({ ...settings, batch: 1 }, closing);
    now = closing.closesAt;
    expect(await codeOf(store.issue(3, 1000, {}, closing))).toBe("SALE_CLOSED");
    now += 10;
    await store.tick(settings, closing);
    expect(await store.poll(1, a.token)).toMatchObject({ status: "IN_PROGRESS" });
    expect(await store.poll(2, b.token)).toEqual({ status: "FINISHED", reason: "closed" });
  });
});

describe("the lottery's order", () => {
  it("is a permutation of the participants, and every order of three comes out about equally often", () => {
    const counts = new Map<string, number>();
    const n = 6000;
    for (let i = 0; i < n; i++) {
      const seed = Buffer.alloc(32);
      seed.writeUInt32BE(i, 0);
      const key = drawOrder([3, 1, 2], seed).join(",");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    // chi-square with 5 degrees of freedom: 20.5 is p = 0.001
    const chi = [...counts.values()].reduce((sum, c) => sum + (c - n / 6) ** 2 / (n / 6), 0);
    expect(chi).toBeLessThan(20.5);
    expect([...drawOrder([5, 9, 7, 1], Buffer.alloc(32, 7))].sort()).toEqual([1, 5, 7, 9]);
  });
});
