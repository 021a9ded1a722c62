// Limits that the waiting-room page needs as much as the apps do. This module imports nothing, so
// apps/web can bundle it without pulling zod or Node modules into the browser.

/** Ids are Postgres `integer`s: 1 .. 2^31-1. */
export const MAX_ID = 2_147_483_647;
/** Every date of a concert has seats 1 .. SEATS_PER_PERFORMANCE. */
export const SEATS_PER_PERFORMANCE = 50;
/** GET /api/users/{userId}/reservations: page size when `limit` is not given, and the most one page may hold. */
export const RESERVATION_PAGE = { default: 20, max: 100 } as const;
/** MAX_HOLDS_PER_USER's default: how many seats one user may hold at once (the page's pick limit too). */
export const DEFAULT_MAX_HOLDS_PER_USER = 4;
/** MAX_HOLDS_PER_USER's upper bound, and so the most seats one hold request may list (`seatIds`). */
export const MAX_SEATS_PER_HOLD = SEATS_PER_PERFORMANCE;
