// The console's history: one sample per slot across instances (claimed once), the same on every
// instance, bounded to the window; read at GET /admin/history (a concert room's with ?concertId=).
import Redis from "ioredis";
import { DEFAULT_REDIS_URL, inventoryKey, roomRegistryKey, seatGatePrefix } from "@concert/shared";
import { testClock } from "@concert/test-support";
import { call, startGateway, type RunningGateway } from "./helpers";

const ADMIN = "admin-token-0123456789";
const auth = { authorization: `Bearer ${ADMIN}` };
const SLOT = 1_000;

describe("history for the console's charts", () => {
  const clock = testClock(Math.ceil(Date.now() / SLOT) * SLOT);
  let a: RunningGateway;
  let b: RunningGateway;
  const queueName = `hist-${process.pid}-${Date.now()}`;
  const redis = new Redis(process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
  beforeAll(async () => {
    const env = { ADMIN_TOKEN: ADMIN, QUEUE_NAME: queueName };
    const history = { slotMs: SLOT, windowMs: 4 * SLOT, now: clock.now };
    a = await startGateway(env, { clock, history });
    b = await startGateway(env, { clock, history });
    // their own timers off: the test races the two instances itself
    await Promise.all([a.gateway.history.stop(), b.gateway.history.stop()]);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await redis.del(roomRegistryKey(queueName), inventoryKey(seatGatePrefix(queueName)));
    redis.disconnect();
  });
  const read = async (g: RunningGateway, query = "") => (await call(g.url, "GET", `/admin/history${query}`, { headers: auth })).body.result;

  it("takes each slot's sample once across two instances racing for it, with the queue's figures", async () => {
    for (let u = 1; u <= 3; u++) await call(a.url, "POST", "/api/users/token", { body: { userId: u } });
    clock.advance(SLOT);
    // both instances try the same slot at once: exactly one takes it
    const took = await Promise.all([a.gateway.history.sampleOnce(), b.gateway.history.sampleOnce()]);
    expect(took.filter(Boolean)).toHaveLength(1);
    const now = await read(b);
    const sample = now.samples.find((s: any) => s.at === clock.now());
    expect(sample).toEqual({ at: clock.now(), waiting: 3, active: 0, admittedLastMinute: 0, sold: null });
    expect(await read(a)).toEqual(now);
  });

  it("keeps one sample per slot, oldest first, and only the window's", async () => {
    for (let i = 0; i < 6; i++) {
      clock.advance(SLOT);
      const took = await Promise.all([a.gateway.history.sampleOnce(), b.gateway.history.sampleOnce()]);
      expect(took.filter(Boolean)).toHaveLength(1);
    }
    const h = await read(a);
    expect(h.samples.at(-1).at).toBe(clock.now());
    const ats = h.samples.map((s: any) => s.at);
    expect(new Set(ats).size).toBe(ats.length);
    expect(ats).toEqual([...ats].sort((x, y) => x - y));
    expect(ats[0]).toBeGreaterThan(clock.now() - 4 * SLOT);
    expect(ats.length).toBeLessThanOrEqual(4);
    expect([h.slotMs, h.windowMs]).toEqual([SLOT, 4 * SLOT]);
  });

  it("keeps each concert room's figures in the same sample: ?concertId= reads that room's series, the general one stays its own", async () => {
    // a concert with a room of its own, as booking registers it (no booking runs here)
    await redis.hset(roomRegistryKey(queueName), "77", JSON.stringify({ name: "History night", room: { batch: 1 } }));
    for (const userId of [501, 502]) {
      const r = await call(a.url, "POST", "/api/users/token", { body: { userId, concertId: 77 } });
      expect(r.body.result).toMatchObject({ status: "WAITING", concertId: 77 });
    }
    // booking's seats per date: the general room's chart counts only the dates of concerts without a room of their own
    const date = (concertId: number, concertDetailId: number, sold: number) => ({
      concertId,
      concertDetailId,
      startsAt: new Date(clock.now() + 86_400_000).toISOString(),
      free: 50 - sold,
      held: 0,
      sold,
    });
    const snapshot = { at: new Date(clock.now()).toISOString(), dates: [date(1, 11, 2), date(77, 771, 5)] };
    await redis.set(inventoryKey(seatGatePrefix(queueName)), JSON.stringify(snapshot), "EX", 60);
    clock.advance(SLOT);
    const took = await Promise.all([a.gateway.history.sampleOnce(), b.gateway.history.sampleOnce()]);
    expect(took.filter(Boolean)).toHaveLength(1);
    const room = await read(b, "?concertId=77");
    // the room's slots only: before it existed it has none
    expect(room.samples).toEqual([{ at: clock.now(), waiting: 2, active: 0, admittedLastMinute: 0, sold: null }]);
    const general = (await read(a)).samples.at(-1);
    expect(general).toEqual({ at: clock.now(), waiting: 3, active: 0, admittedLastMinute: 0, sold: 2 });
    expect((await read(a, "?concertId=78")).samples).toEqual([]);
    const bad = await call(a.url, "GET", "/admin/history?concertId=x", { headers: auth });
    expect([bad.status, bad.body.error.code]).toEqual([400, "VALIDATION_FAILED"]);
    const unknown = await call(a.url, "GET", "/admin/history?room=77", { headers: auth });
    expect(unknown.status).toBe(400);
  });
});
