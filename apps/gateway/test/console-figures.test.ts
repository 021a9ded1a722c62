// The console's per-room figures beyond the queue's: booking's health summed over instances from
// their own metrics, booking's seat counts per date, and the last-in-line wait.
import Redis from "ioredis";
import { DEFAULT_REDIS_URL, Metrics, inventoryKey, seatGatePrefix, type InventorySnapshot } from "@concert/shared";
import { testClock } from "@concert/test-support";
import { BookingHealth } from "../src/console/booking-health";
import { call, startGateway, uniqueName } from "./helpers";

const ADMIN = "admin-token-0123456789";
const auth = { authorization: `Bearer ${ADMIN}` };

describe("booking health from the gateways' own metrics", () => {
  const redis = new Redis(DEFAULT_REDIS_URL);
  afterAll(() => redis.quit());

  it("sums two instances' last minute: requests, 5xx, the p99 bucket; other routes and older slots left out", async () => {
    const clock = testClock(1_000_000_000_000);
    const name = uniqueName("health");
    const routes = new Set(["/api/reservations"]);
    const [ma, mb] = [new Metrics("gateway"), new Metrics("gateway")];
    const [a, b] = [ma, mb].map((m) => new BookingHealth(redis, name, m, routes, { slotMs: 10_000, now: clock.now }));
    const observe = (m: Metrics, status: number, sec: number, route = "/api/reservations") =>
      m.httpDuration.observe({ method: "POST", route, status }, sec);

    // a minute and more ago: 50 slow errors, pushed, then out of the window
    for (let i = 0; i < 50; i++) observe(ma, 503, 4);
    await a.push();
    clock.advance(80_000);
    expect(await a.read()).toMatchObject({ requests: 0, errors: 0, errorRate: null, p99Sec: null });

    for (let i = 0; i < 98; i++) observe(ma, 201, 0.004);
    observe(mb, 500, 0.2);
    observe(mb, 201, 0.7);
    for (let i = 0; i < 500; i++) observe(mb, 200, 3, "/api/users/token"); // not a booking route
    await Promise.all([a.push(), b.push()]);
    await a.push(); // nothing new: adds nothing
    const seen = await b.read();
    expect(seen).toEqual({ requests: 100, errors: 1, errorRate: 0.01, p99Sec: 0.25, p99AboveMax: false, windowSec: 60 });
    expect(await a.read()).toEqual(seen);

    observe(mb, 200, 9); // beyond the largest bucket
    observe(mb, 200, 9);
    // b counts its own answers at once; a sees them once b has pushed
    expect(await b.read()).toMatchObject({ requests: 102, p99Sec: 5, p99AboveMax: true });
    expect(await a.read()).toMatchObject({ requests: 100 });
    await b.push();
    expect(await a.read()).toMatchObject({ requests: 102, p99Sec: 5, p99AboveMax: true });
    expect(await b.read()).toMatchObject({ requests: 102 });
  });
});

describe("GET /admin/queue: the general room's figures", () => {
  it("carries booking's seats per date (null without a snapshot), booking's health and the last person's wait", async () => {
    const name = uniqueName("figures");
    const gw = await startGateway({ ADMIN_TOKEN: ADMIN, QUEUE_NAME: name, QUEUE_ADMIT_BATCH: "4", QUEUE_TICK_MS: "1000" });
    try {
      const before = (await call(gw.url, "GET", "/admin/queue", { headers: auth })).body.result;
      expect(before).toMatchObject({ waiting: 0, lastWaitSec: 0, seats: null, booking: { requests: 0, errorRate: null } });

      const snapshot: InventorySnapshot = {
        at: new Date().toISOString(),
        dates: [{ concertId: 1, concertDetailId: 11, startsAt: new Date().toISOString(), free: 40, held: 3, sold: 7 }],
      };
      const redis = new Redis(DEFAULT_REDIS_URL);
      await redis.set(inventoryKey(seatGatePrefix(name)), JSON.stringify(snapshot), "EX", 60); // as booking writes it
      await redis.quit();
      for (let u = 1; u <= 20; u++) await call(gw.url, "POST", "/api/users/token", { body: { userId: u } });
      const now = (await call(gw.url, "GET", "/admin/queue", { headers: auth })).body.result;
      // 20 waiting at 4 per second (no rate measured yet): the last one waits about 5 s
      expect(now).toMatchObject({ waiting: 20, lastWaitSec: 5, seats: snapshot });
      await call(gw.url, "POST", "/admin/queue/pause", { headers: auth });
      expect((await call(gw.url, "GET", "/admin/queue", { headers: auth })).body.result.lastWaitSec).toBeNull();
    } finally {
      await gw.close();
    }
  });
});
