// A concert room's inventory (inventory/room-inventory.ts): recounted from Postgres after the
// changes that touch the concert, at most once per recountEveryMs per instance, so that a rush of
// holds shares recounts instead of scanning the concert's seats once per hold.
import { createLogger, queueKeys, roomQueueName } from "@concert/shared";
import { RoomInventory } from "../src/inventory/room-inventory";
import { Prisma } from "../src/generated/prisma/client";
import { newConcert, reserveIdBlock, startBooking, until, type Booking } from "./support/booking";

reserveIdBlock();

let a: Booking;
beforeAll(async () => {
  a = await startBooking();
});
afterAll(async () => {
  await a?.close();
});

describe("room inventory", () => {
  const queueName = `inv${process.pid}`;
  const sell = (detailId: number, seatNos: number[]) =>
    a.db.sql.query(
      Prisma.sql`UPDATE seat SET status = 'SOLD', reservation_id = 0 WHERE concert_detail_id = ${detailId} AND seat_no = ANY(${seatNos}::int[])`,
    );
  const counts = async (concertId: number) => {
    const raw = await a.redis.hgetall(queueKeys(roomQueueName(queueName, concertId)).inv);
    return { free: Number(raw.free), held: Number(raw.held), sold: Number(raw.sold) };
  };

  let inventory: RoomInventory;
  afterEach(() => inventory?.close());

  it("a change after a quiet spell is counted before changed() resolves; a rush shares one recount after it, which counts every change", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 2 });
    const [first, second] = detailIds;
    inventory = new RoomInventory(a.db, a.redis, queueName, createLogger("test", "silent"), { recountEveryMs: 300 });
    inventory.setRooms([concertId]);
    const recount = jest.spyOn(inventory, "recount");

    await sell(first, [1]);
    await inventory.changed({ concertDetailIds: [first] });
    expect(recount).toHaveBeenCalledTimes(1);
    expect(await counts(concertId)).toEqual({ free: 99, held: 0, sold: 1 });

    // 20 changes within the interval: none is recounted at once, all by the one recount due
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await sell(i % 2 ? first : second, [i + 2]);
        await inventory.changed({ concertDetailIds: [i % 2 ? first : second] });
      }),
    );
    expect(recount).toHaveBeenCalledTimes(1);
    await until(
      () => counts(concertId),
      (c) => c.sold === 21,
      2_000,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // the recount due, not one per change
    expect(recount).toHaveBeenCalledTimes(2);
    expect(await counts(concertId)).toEqual({ free: 79, held: 0, sold: 21 });
  });

  it("a change while a recount runs is counted by the next one; concerts without a room of their own are not counted", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 1 });
    const other = await newConcert(a.db, { performances: 1 });
    inventory = new RoomInventory(a.db, a.redis, queueName, createLogger("test", "silent"), { recountEveryMs: 50 });
    inventory.setRooms([concertId]);
    const recount = jest.spyOn(inventory, "recount");
    await sell(detailIds[0], [1]);
    const leading = inventory.changed({ concertDetailIds: [detailIds[0]] });
    await sell(detailIds[0], [2]); // committed while the first recount may be running
    await inventory.changed({ concertDetailIds: [detailIds[0], other.detailIds[0]] });
    await leading;
    // whether the second change came while the first recount ran, after it within the interval,
    // or after the interval, a recount begun after it counts it
    await until(
      async () => recount.mock.calls.length,
      (n) => n >= 2,
      2_000,
    );
    await until(
      () => counts(concertId),
      (c) => c.sold === 2,
      2_000,
    );
    expect(recount.mock.calls.map(([id]) => id)).toEqual([concertId, concertId]);
    expect(await a.redis.exists(queueKeys(roomQueueName(queueName, other.concertId)).inv)).toBe(0);
  });

  it("the changes of a rush onto a performance it has not seen share one read of its concert", async () => {
    const { concertId, detailIds } = await newConcert(a.db, { performances: 1 });
    inventory = new RoomInventory(a.db, a.redis, queueName, createLogger("test", "silent"), { recountEveryMs: 60_000 });
    inventory.setRooms([concertId]);
    const query = jest.spyOn(a.db.sql, "query");
    try {
      await Promise.all(Array.from({ length: 20 }, () => inventory.changed({ concertDetailIds: [detailIds[0]] })));
      const concertReads = query.mock.calls.filter(([q]) => /FROM concert_detail WHERE id/.test(q.sql));
      expect(concertReads).toHaveLength(1);
      // and it was the concert's: the one recount ran
      expect(await counts(concertId)).toEqual({ free: 50, held: 0, sold: 0 });
    } finally {
      query.mockRestore();
    }
  });
});
