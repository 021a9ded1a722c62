// The operators' inventory snapshot: after each sweep, every booking instance writes the free,
// held and sold seats of each future performance to Redis (with a TTL), where the gateway reads it.
import { INVENTORY_TTL_SEC, inventoryKey, type InventorySnapshot } from "@concert/shared";
import { call, newConcert, nextId, passport, reserveIdBlock, startBooking, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
beforeAll(async () => {
  a = await startBooking();
});
afterAll(async () => {
  await a?.close();
});

it("counts a live hold as held, an expired hold as free and a paid seat as sold, per date, and writes it with a TTL", async () => {
  const { concertId, detailIds } = await newConcert(a.db, { performances: 2 });
  // the soonest performances of all (the snapshot keeps the soonest ones)
  for (const [i, id] of detailIds.entries()) {
    await a.db.concertDetail.update({ where: { id }, data: { startsAt: new Date(Date.now() + (i + 1) * 3_600_000) } });
  }
  const [first, second] = detailIds;
  const user = nextId();
  const hold = (seatId: number) =>
    call(a.url, "POST", "/api/reservations", { auth: passport({ userId: user }), body: { concertDetailId: first, userId: user, seatId } });
  expect((await hold(3)).status).toBe(201);
  expect((await hold(5)).status).toBe(201);
  expect((await hold(6)).status).toBe(201);
  // seat 6's hold has run out; seat 5's was paid (the seat row as a payment leaves it)
  await a.db.seat.update({
    where: { concertDetailId_seatNo: { concertDetailId: first, seatNo: 6 } },
    data: { holdUntil: new Date(Date.now() - 1000) },
  });
  await a.db.seat.update({ where: { concertDetailId_seatNo: { concertDetailId: first, seatNo: 5 } }, data: { status: "SOLD" } });

  const key = inventoryKey(a.config.redisKeyPrefix);
  await a.redis.del(key);
  await a.app.sweep();
  const snapshot = JSON.parse((await a.redis.get(key))!) as InventorySnapshot;
  const ours = snapshot.dates.filter((d) => d.concertId === concertId);
  expect(ours.map(({ concertDetailId, free, held, sold }) => ({ concertDetailId, free, held, sold }))).toEqual([
    { concertDetailId: first, free: 48, held: 1, sold: 1 },
    { concertDetailId: second, free: 50, held: 0, sold: 0 },
  ]);
  expect(Math.abs(Date.parse(snapshot.at) - Date.now())).toBeLessThan(60_000);
  const ttl = await a.redis.ttl(key);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(INVENTORY_TTL_SEC);
});
