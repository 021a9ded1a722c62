// Limits of the operator console and the audit log, which the console page needs as much as the
// gateway does. Like limits.ts this module imports nothing, so apps/web can bundle it.
/**
 * `X-Operator` (the name an operator signs in with, sent on
 * admin requests): 1 .. OPERATOR_NAME_MAX printable ASCII characters once trimmed.
 */
export const OPERATOR_NAME_MAX = 64;
export const OPERATOR_NAME_PATTERN = /^[\x20-\x7e]+$/;
/** GET /admin/audit: entries per page when `limit` is not given, and the most one page may hold. */
export const AUDIT_PAGE = { default: 50, max: 200 } as const;
/** The audit log keeps about this many newest entries (a Redis stream trimmed with MAXLEN ~). */
export const AUDIT_LOG_MAX_ENTRIES = 10_000;
/** The console's charts: one sample per slot of this length, kept this long. */
export const HISTORY_SLOT_MS = 10_000;
export const HISTORY_WINDOW_MS = 30 * 60_000;
