import RedisMock from "ioredis-mock";
import type Redis from "ioredis";
import { QueueStore } from "../src/queue-store";

// Inventory-aware admission and sold-out on ioredis-mock with an injected clock; the inventory
// hash is what booking writes (apps/booking/src/inventory/room-inventory.ts).
let now = 1_800_000_000_000;
const clients: Redis[] = [];
afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));

function room() {
  const redis = new RedisMock();
  clients.push(redis);
  const store = new QueueStore(redis, {
    name: `inv-${Math.random().toString(36).slice(2)}`,
    concertId: 5,
    activeTtlSec: 600,
    idleTtlSec: 600,
    paymentReplaySec: 300,
    clock: () => now,
  });
  const seats = (free: number, held: number, sold: number) => redis.hset(store.keys.inv, { free, held, sold, at: now });
  return { store, seats };
}
const settings = { tickMs: 10, batch: 100, maxActive: 1000, admitPerFreeSeat: 2 };
const tick = (store: QueueStore, s = settings) => {
  now += 10;
  return store.tick(s);
};

describe("a room that knows its inventory", () => {
  it("keeps at most admitPerFreeSeat x free seats active", async () => {
    const { store, seats } = room();
    await seats(3, 0, 47);
    for (let u = 1; u <= 20; u++) await store.issue(u);
    expect((await tick(store)).admitted).toBe(6);
    expect((await tick(store)).admitted).toBe(0);
    // a seat more is free (a hold lapsed): two more come in
    await seats(4, 0, 46);
    expect((await tick(store)).admitted).toBe(2);
    // without an inventory (or a rule) the room admits by its batch alone
    expect((await tick(store, { ...settings, admitPerFreeSeat: undefined as unknown as number })).admitted).toBe(12);
  });

  it("with nothing free but seats held, the waiting stay in line and are told how many are held", async () => {
    const { store, seats } = room();
    await seats(0, 4, 46);
    const { token } = await store.issue(1);
    expect((await tick(store)).admitted).toBe(0);
    expect(await store.poll(1, token)).toMatchObject({ status: "WAITING", rank: 1, seatsHeld: 4 });
    await seats(1, 3, 46); // a hold lapsed: admission resumes
    expect((await tick(store)).admitted).toBe(1);
  });

  it("sold out: the waiting are FINISHED sold_out and new arrivals are refused SOLD_OUT; a place already held is given back", async () => {
    const { store, seats } = room();
    await seats(0, 1, 49);
    const a = await store.issue(1);
    const b = await store.issue(2);
    await seats(0, 0, 50);
    await expect(store.issue(3)).rejects.toMatchObject({ code: "SOLD_OUT", status: 409 });
    expect(await store.issue(1, undefined, { presentedToken: a.token })).toMatchObject({ token: a.token, status: "WAITING" });
    await tick(store);
    expect(await store.poll(1, a.token)).toEqual({ status: "FINISHED", reason: "sold_out" });
    expect(await store.poll(2, b.token)).toEqual({ status: "FINISHED", reason: "sold_out" });
    // a refund frees a seat: the room opens again
    await seats(1, 0, 49);
    expect(await store.issue(3)).toMatchObject({ status: "WAITING", rank: 1 });
  });
});
