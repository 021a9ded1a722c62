// The operator console's answer shapes (GET /admin/audit, /admin/history, /admin/queue's booking
// health): the gateway builds them, the console page reads them (type-only, as the page does).

/** One operator action as the audit log keeps it. */
export interface AuditEntry {
  /** the Redis stream id: `<ms>-<seq>`, unique and ordered across every instance */
  id: string;
  /** when the action was applied (ISO 8601, the gateway instance's clock) */
  at: string;
  /** the `X-Operator` name, or null when the request named none */
  operator: string | null;
  /** what: the route's action name (`queue.pause`, `queue.settings.update`, …) */
  action: string;
  method: string;
  path: string;
  /** the room acted on: null for the general room (a concert id once rooms exist) */
  concertId: number | null;
  /** the body the operator sent (PATCH), as parsed */
  request?: unknown;
  /** "applied", or the error code the action was refused with (nothing changed then) */
  outcome: string;
  before: unknown;
  after: unknown;
  requestId?: string;
}

/** One point of the console's charts: a room's figures at the start of a slot. */
export interface HistorySample {
  /** the slot's start (ms since the epoch) */
  at: number;
  waiting: number;
  active: number;
  /** admitted over the minute before `at` */
  admittedLastMinute: number;
  /** seats sold over the room's dates (null when booking's figures were not available) */
  sold: number | null;
}

/** Booking as the gateway's users meet it, over the last minute, summed over every gateway instance. */
export interface BookingHealthView {
  /** forwarded booking requests answered */
  requests: number;
  /** of those, answered 5xx (booking's own errors, and 502/503 when it could not be reached) */
  errors: number;
  /** errors / requests (null without requests) */
  errorRate: number | null;
  /** the upper bound (s) of the latency bucket holding the 99th percentile (null without requests) */
  p99Sec: number | null;
  /** true when the 99th percentile is beyond the largest bucket (p99Sec is then that bucket's bound) */
  p99AboveMax: boolean;
  windowSec: number;
}
