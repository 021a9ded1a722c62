import { randomBytes } from "node:crypto";
import { tokenConcertId } from "@concert/shared";
import { Tally, call } from "./support/client";
import { journey } from "./support/flows";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { bad5xx, outcomes } from "./support/scenario";

// Issue 14: a rush into two concerts' own rooms at once, next to the general room (the seed's
// concert), through 2 gateways and 2 bookings: each concert sells at most its seats, every sold
// seat is paid once by a buyer of that concert, no 5xx, and the invariants hold.
describe("system: a rush into two concert rooms next to the general room", () => {
  const adminToken = randomBytes(16).toString("hex");
  let sys: System;
  beforeAll(async () => {
    sys = await startSystem({ tag: "roomrush", gatewayEnv: { ADMIN_TOKEN: adminToken, QUEUE_TICK_MS: "200", QUEUE_ADMIT_BATCH: "50" } });
  }, 120_000);
  afterAll(async () => {
    await sys?.stop();
  }, 60_000);

  it("sells each concert's 100 seats at most once, to that concert's own queue, with no 5xx", async () => {
    const rooms = [];
    for (const name of ["Room A", "Room B"]) {
      const r = await call(sys.gateways[0].url, "POST", "/admin/concerts", {
        body: {
          name,
          seatPrice: 1000,
          dates: [1, 2].map((d) => new Date(Date.now() + d * 7 * 86_400_000).toISOString()),
          room: { batch: 40, tickMs: 250 },
        },
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(r.status).toBe(201);
      rooms.push({
        concertId: r.body.result.concertId as number,
        detailIds: r.body.result.concertDetailIds as number[],
        room: true as const,
      });
    }
    const general = await sys.concert(2, 1000);
    const concerts = [...rooms, { ...general, room: undefined }];
    const tally = new Tally();
    const gateways = () => sys.gateways.map((g) => g.url);
    const perConcert = 130;
    const started = Date.now();
    const runs = await Promise.all(
      concerts.map((c) =>
        Promise.all(
          sys.userIds(perConcert).map((u) =>
            journey(u, {
              gateways,
              concertId: c.concertId,
              detailIds: c.detailIds,
              tally,
              price: 1000,
              room: c.room,
              deadlineMs: 60_000,
            }),
          ),
        ),
      ),
    );
    const secs = (Date.now() - started) / 1000;
    for (const [i, c] of concerts.entries()) {
      const o = outcomes(runs[i]);
      expect(o.gaveUp).toBe(0);
      expect(o.paid).toBeLessThanOrEqual(100);
      expect(o.paid).toBeGreaterThan(0);
      const sold = await sys.db.pool.query<{ n: number; users: number[] }>(
        `SELECT count(*)::int AS n, array_agg(r.user_id) AS users FROM reservation r JOIN concert_detail d ON d.id = r.concert_detail_id
          WHERE d.concert_id = $1 AND r.status = 'CONFIRMED'`,
        [c.concertId],
      );
      expect(sold.rows[0].n).toBe(o.paid);
      // each buyer queued in the room that serves the concert (a room token names its concert)
      expect(runs[i].map((j) => tokenConcertId(j.token ?? ""))).toEqual(runs[i].map(() => (c.room ? c.concertId : null)));
      const buyers = new Set(runs[i].map((j) => j.userId));
      expect((sold.rows[0].users ?? []).every((u) => buyers.has(u))).toBe(true);
      report(`rooms rush: concert ${c.concertId} (${c.room ? "own room" : "general room"}): ${o.text}`);
    }
    expect(bad5xx(tally)).toEqual([]);
    const inv = await sys.invariants();
    report(`rooms rush: ${concerts.length * perConcert} buyers in ${secs.toFixed(1)} s; ${invariantText(inv)}`);
    expect(inv.violations).toEqual([]);
  }, 120_000);
});
