import type { Logger, TickResult } from "@concert/shared";
import type { Rooms } from "./rooms";
import { TickLoop } from "./tick-loop";

/** A room where nobody waits and nobody is active is looked at again only this often (or when this instance queues someone in it). */
export const IDLE_ROOM_RECHECK_MS = 1_000;

/**
 * The one admission loop of this instance for every concert room: each room's tick runs when it
 * is due (half its tickMs after the last, as the general room's AdmissionTicker does), and its
 * script does the work at most once per slot across all instances (its own `tick` key, under the
 * room's hash tag), so each room admits at most its batch per tick however many gateways run.
 * A room where nobody waits nor is active costs one script call a second, and wakes at once when
 * this instance queues someone in it.
 */
export class RoomTicker {
  private readonly loop = new TickLoop(
    () => this.runOnce(),
    () => this.nextDelay(),
  );
  private readonly due = new Map<number, number>();

  constructor(
    private readonly rooms: Rooms,
    private readonly logger: Logger,
    private readonly onTick: (concertId: number, r: TickResult, ms: number) => void = () => {},
    private readonly onFailure: (err: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
    /** names this instance in the lottery record (drawnBy) */
    private readonly instance = `gateway-${process.pid}`,
  ) {
    rooms.onIssued((concertId) => this.wake(concertId));
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** The room's tick is due now (someone was queued in it). */
  wake(concertId: number): void {
    this.due.set(concertId, 0);
    this.loop.wake();
  }

  private nextDelay(): number {
    const now = this.now();
    let next = now + IDLE_ROOM_RECHECK_MS;
    for (const at of this.due.values()) next = Math.min(next, at);
    return Math.max(5, next - now);
  }

  /** Runs the tick of every room that is due; returns each ran room's result (tests call it directly). */
  async runOnce(): Promise<Map<number, TickResult>> {
    const results = new Map<number, TickResult>();
    try {
      await this.rooms.directory.fresh();
    } catch (err) {
      this.onFailure(err);
    }
    const now = this.now();
    const rooms = this.rooms.all();
    const live = new Set(rooms.map((r) => r.concertId));
    for (const id of this.due.keys()) if (!live.has(id)) this.due.delete(id);
    await Promise.all(
      rooms.map(async (room) => {
        if ((this.due.get(room.concertId) ?? 0) > now) return;
        const started = process.hrtime.bigint();
        try {
          const { schedule } = room;
          const result = await room.store.tick(room.settings, schedule);
          room.effective = result.settings;
          // the opening: one instance draws the pre-queue's order (the others find it drawn)
          if (schedule?.lottery && !room.drawn && this.now() >= schedule.opensAt) {
            const record = await room.store.drawLottery(schedule.opensAt, this.instance);
            if (record)
              this.logger.info(
                { concertId: room.concertId, participants: record.participants, orderHash: record.orderHash },
                "opening lottery drawn",
              );
            room.drawn = record !== null || (await room.store.lottery()) !== null;
          }
          const idle = result.waiting === 0 && result.active === 0;
          let next = this.now() + (idle ? IDLE_ROOM_RECHECK_MS : Math.max(5, Math.floor(result.settings.tickMs / 2)));
          if (schedule?.lottery && !room.drawn) next = Math.min(next, Math.max(schedule.opensAt, this.now() + 5));
          if (schedule?.closesAt && schedule.closesAt > this.now()) next = Math.min(next, schedule.closesAt);
          this.due.set(room.concertId, next);
          if (result.ran) {
            results.set(room.concertId, result);
            this.onTick(room.concertId, result, Number(process.hrtime.bigint() - started) / 1e6);
          }
        } catch (err) {
          this.due.set(room.concertId, this.now() + Math.max(5, Math.floor(room.settings.tickMs / 2)));
          this.onFailure(err);
          this.logger.warn({ concertId: room.concertId, err: { message: (err as Error).message } }, "room admission tick failed; retrying");
        }
      }),
    );
    return results;
  }
}
