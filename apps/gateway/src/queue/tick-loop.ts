/**
 * The timer both admission loops run on (the general room's AdmissionTicker and the concert
 * rooms' RoomTicker): runs `work`, waits `nextDelay()`, runs it again, until stopped; `stop`
 * waits for a run in progress. `wake` runs it at once unless a run is in progress (which
 * schedules the next itself). The timer never keeps the process alive.
 */
export class TickLoop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = true;

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly nextDelay: () => number,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  wake(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.work().finally(() => {
        this.running = null;
        this.schedule(this.nextDelay());
      });
    }, delay);
    this.timer.unref();
  }
}
