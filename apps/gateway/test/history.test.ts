// The console's history: one sample per slot across instances (claimed once), the same on every
// instance, bounded to the window; read at GET /admin/history.
import { testClock } from "@concert/test-support";
import { call, startGateway, type RunningGateway } from "./helpers";

const ADMIN = "admin-token-0123456789";
const auth = { authorization: `Bearer ${ADMIN}` };
const SLOT = 1_000;

describe("history for the console's charts", () => {
  const clock = testClock(Math.ceil(Date.now() / SLOT) * SLOT);
  let a: RunningGateway;
  let b: RunningGateway;
  beforeAll(async () => {
    const env = { ADMIN_TOKEN: ADMIN, QUEUE_NAME: `hist-${process.pid}-${Date.now()}` };
    const history = { slotMs: SLOT, windowMs: 4 * SLOT, now: clock.now };
    a = await startGateway(env, { clock, history });
    b = await startGateway(env, { clock, history });
    // their own timers off: the test races the two instances itself
    await Promise.all([a.gateway.history.stop(), b.gateway.history.stop()]);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  const read = async (g: RunningGateway) => (await call(g.url, "GET", "/admin/history", { headers: auth })).body.result;

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
});
