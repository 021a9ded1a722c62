import pino, { type Logger } from "pino";

export type { Logger };

/** One JSON line per event; `app` names the deployable. */
export function createLogger(app: string, level = "info"): Logger {
  return pino({ name: app, level, base: { app }, timestamp: pino.stdTimeFunctions.isoTime });
}
