import Redis from "ioredis";
import { QueueStore, type TickResult } from "@concert/shared";
import { gatewayMetrics } from "../src/metrics";
import { uniqueName } from "./helpers";

// The queue gauges, one series per room (the general one and each concert room), on the real
// Redis: what deploy/prometheus/alerts.yml's AdmissionStalled compares per room.
describe("per-room queue metrics", () => {
  const redis = new Redis(6379, "127.0.0.1");
  afterAll(() => redis.quit());
  const options = { name: uniqueName("qm"), activeTtlSec: 600, idleTtlSec: 600, paymentReplaySec: 300 };
  const general = new QueueStore(redis, options);
  const room = new QueueStore(redis, { ...options, concertId: 7 });
  const ticked = (admitted: number): TickResult => ({
    ran: true,
    admitted,
    expired: 0,
    evicted: 0,
    settings: { batch: 100, tickMs: 1000, maxActive: 100, paused: false },
    waiting: 0,
    active: 0,
  });
  const sample = (text: string, name: string, roomLabel: string) =>
    Number(new RegExp(`^${name}\\{[^}]*room="${roomLabel}"[^}]*\\} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);

  it("reports waiting, active, paused, max active and the admission cap of every room, and counts each room's admissions", async () => {
    const { metrics, onTick, onRoomTick } = gatewayMetrics(
      general,
      () => 0,
      () => ({ maxActive: 1000, paused: false }),
      () => [{ room: "7", store: room, admission: () => ({ maxActive: 100, paused: false, admitPerFreeSeat: 2 }) }],
    );
    for (let u = 1; u <= 3; u++) await general.issue(u);
    for (let u = 1; u <= 5; u++) await room.issue(u);
    await room.setOverrides({ paused: true });
    // booking's count of the room's seats: 4 free (apps/booking/src/inventory/room-inventory.ts)
    await redis.hset(room.keys.inv, { free: 4, held: 1, sold: 45, at: Date.now() });
    onTick(ticked(2), 1);
    onRoomTick(7, ticked(3));

    const text = await metrics.registry.metrics();
    const row = (name: string) => [sample(text, name, "general"), sample(text, name, "7")];
    expect(row("queue_waiting")).toEqual([3, 5]);
    expect(row("queue_active")).toEqual([0, 0]);
    expect(row("queue_paused")).toEqual([0, 1]);
    expect(row("queue_max_active")).toEqual([1000, 100]);
    // a concert room admits at most admitPerFreeSeat × free: 2 × 4, below its max active
    expect(row("queue_admission_cap")).toEqual([1000, 8]);
    expect(row("queue_admitted_total")).toEqual([2, 3]);

    // no seat free: the cap is 0, so a room whose seats are all held is not "stalled"
    await redis.hset(room.keys.inv, { free: 0, held: 5, sold: 45 });
    expect(sample(await metrics.registry.metrics(), "queue_admission_cap", "7")).toBe(0);
  });
});
