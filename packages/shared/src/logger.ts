import pino, { type Logger } from "pino";

export type { Logger };

/**
 * One JSON line per event on stdout; `app` names the deployable. Lines are buffered (pino.destination
 * with sync: false) and written 4 kB at a time, or at most half a second after they were logged
 * (sonic-boom's periodicFlush), instead of one write system call per line, which showed up in
 * the gateway's profile of issued tokens (bench/profile.mjs). pino flushes what is left when the process exits (also on
 * process.exit); a SIGKILL can lose the last half second of lines.
 */
export function createLogger(app: string, level = "info"): Logger {
  const options = { name: app, level, base: { app }, timestamp: pino.stdTimeFunctions.isoTime };
  if (level === "silent") return pino(options);
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 500 }));
}
