import type { Logger } from "@concert/shared";
import type { AdmissionSettings, QueueStore, TickResult } from "@concert/shared";
import { TickLoop } from "./tick-loop";

/**
 * Runs the admission tick on this instance. Every instance runs one; the tick script does the
 * work once per slot in total, so polling at half the tick interval never skips a slot and never
 * admits twice.
 */
export class AdmissionTicker {
  private readonly loop = new TickLoop(
    () => this.runOnce(),
    () => Math.max(5, Math.floor(this.effective.tickMs / 2)),
  );
  /** the admission settings in force, as the last tick reported them (live overrides included) */
  effective: AdmissionSettings & { paused: boolean };
  private readonly ranListeners: ((r: TickResult) => Promise<void> | void)[] = [];

  constructor(
    private readonly store: QueueStore,
    private readonly settings: AdmissionSettings,
    private readonly logger: Logger,
    private readonly onTick: (r: TickResult, ms: number) => void = () => {},
    private readonly onFailure: (err: unknown) => void = () => {},
  ) {
    this.effective = { ...settings, paused: false };
  }

  /** Runs after every tick that ran on this instance, e.g. to tell the other instances (TickEvents). */
  afterTick(listener: (r: TickResult) => Promise<void> | void): void {
    this.ranListeners.push(listener);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async runOnce(): Promise<TickResult | null> {
    const started = process.hrtime.bigint();
    try {
      const result = await this.store.tick(this.settings);
      this.effective = result.settings;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.ran) {
        this.onTick(result, ms);
        await Promise.all(this.ranListeners.map(async (listener) => listener(result)));
        if (result.admitted || result.expired || result.evicted) this.logger.debug({ ...result, ms }, "admission tick");
      }
      return result;
    } catch (err) {
      this.onFailure(err);
      this.logger.warn({ err: { message: (err as Error).message } }, "admission tick failed; retrying");
      return null;
    }
  }
}
