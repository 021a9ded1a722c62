export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Calls `fn` until `ok` accepts its value or `ms` have passed, and returns the last value either
 * way, so the caller's assertion on it says what was wrong.
 */
export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await sleep(everyMs);
  }
}

export interface TestClock {
  /** the clock to inject (ms) */
  now: () => number;
  /** lets `ms` pass at once */
  advance(ms: number): void;
}

/**
 * A clock that stands still until told: a test advances it instead of sleeping. It starts at the
 * real time so that expiries the scripts set on keys (now + TTL) stay in the future for Redis.
 */
export function testClock(start = Date.now()): TestClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      if (!(ms >= 0)) throw new Error(`a clock does not go back (advance(${ms}))`);
      t += ms;
    },
  };
}
