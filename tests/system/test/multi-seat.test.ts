import { call } from "./support/client";
import { invariantText, report, startSystem, type System } from "./support/harness";
import { admitUsers } from "./support/scenario";

// Issue 15 part 1 over real processes: several seats held together, one released, the rest paid,
// while others rush for the released seats; then the invariants over Postgres and Redis.
const PRICE = 50_000;

describe("system: several seats at once and releasing a hold", () => {
  let sys: System;
  let gw: string[];
  beforeAll(async () => {
    sys = await startSystem({ tag: "multi_seat", gateways: 2, gatewayEnv: { MAX_HOLDS_PER_CLIENT: "0", HOLD_RATE_LIMIT: "0" } });
    gw = sys.gateways.map((g) => g.url);
  }, 90_000);
  afterAll(() => sys?.stop(), 60_000);

  it("30 users hold overlapping pairs and triples at once; winners release one seat and pay the rest while others rush for it", async () => {
    const {
      detailIds: [detail],
    } = await sys.concert(1);
    const buyers = sys.userIds(30);
    const rushers = sys.userIds(10);
    const tokens = await admitUsers(gw[0], [...buyers, ...rushers]);
    const setOf = (i: number) => [1 + ((i * 7) % 24), 1 + ((i * 7 + 3) % 24), ...(i % 2 ? [1 + ((i * 7 + 5) % 24)] : [])];
    const started = Date.now();
    const holds = await Promise.all(
      buyers.map((u, i) =>
        call(gw[i % 2], "POST", "/api/reservations", {
          token: tokens.get(u),
          body: { concertDetailId: detail, userId: u, seatIds: setOf(i) },
        }),
      ),
    );
    const won = buyers.flatMap((u, i) => (holds[i].status === 201 ? [{ u, i, reservations: holds[i].body.result.reservations }] : []));
    expect(holds.every((r) => r.status === 201 || (r.status === 409 && r.body.error.code === "SEAT_UNAVAILABLE"))).toBe(true);
    expect(won.length).toBeGreaterThan(0);

    // each winner: release its first seat, charge and pay the others; at once, rushers try the released seats
    const released = won.map((w) => w.reservations[0].seatId as number);
    const journeys = won.map(async ({ u, i, reservations }) => {
      const token = tokens.get(u);
      const rel = await call(gw[i % 2], "DELETE", `/api/reservations/${reservations[0].reservationId}`, { token });
      const rest = reservations.slice(1).map((r: { reservationId: number }) => r.reservationId);
      await call(gw[(i + 1) % 2], "PATCH", "/api/users/point", { body: { userId: u, point: PRICE * rest.length } });
      const paid = await call(gw[(i + 1) % 2], "POST", "/api/payment", { token, body: { userId: u, reservationIds: rest } });
      return { rel: rel.status, paid: paid.status };
    });
    const rush = (k: number) =>
      call(gw[k % 2], "POST", "/api/reservations", {
        token: tokens.get(rushers[k]),
        body: { concertDetailId: detail, userId: rushers[k], seatId: released[k % released.length] },
      });
    const racing = rushers.map((_, k) => rush(k)); // while the releases are on their way
    const [outcomes, raced] = await Promise.all([Promise.all(journeys), Promise.all(racing)]);
    expect(outcomes.every((o) => o.rel === 200 && o.paid === 200)).toBe(true);
    expect(raced.every((r) => r.status === 201 || (r.status === 409 && r.body.error.code === "SEAT_UNAVAILABLE"))).toBe(true);
    // once released, each seat is there for the next buyer (one rusher per released seat not yet taken)
    const takenInRace = new Set(raced.flatMap((r) => (r.status === 201 ? [r.body.result.seatId as number] : [])));
    const after = await Promise.all(
      rushers
        .map((_, k) => k)
        .filter((k) => k < released.length && !takenInRace.has(released[k]) && raced[k].status !== 201)
        .map(rush),
    );
    expect(after.every((r) => r.status === 201)).toBe(true);
    const rushed = [...raced, ...after];
    const ms = Date.now() - started;

    const inv = await sys.invariants();
    report(
      `multi-seat: ${won.length}/${buyers.length} overlapping sets held whole, ${released.length} seats released, ` +
        `${rushed.filter((r) => r.status === 201).length}/${rushers.length} rushers got a seat, in ${ms} ms; ${invariantText(inv)}`,
    );
    expect(inv.violations).toEqual([]);
    // every buyer got its whole set or nothing
    const { rows } = await sys.db.pool.query<{ user_id: number; n: number }>(
      "SELECT user_id, count(*)::int AS n FROM reservation WHERE concert_detail_id = $1 AND user_id = ANY($2::int[]) GROUP BY user_id",
      [detail, buyers],
    );
    for (const r of rows) expect(r.n).toBe(setOf(buyers.indexOf(r.user_id)).length);
    expect(rows).toHaveLength(won.length);
  }, 60_000);
});
