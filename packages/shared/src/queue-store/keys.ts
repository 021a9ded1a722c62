/**
 * The Redis key layout of one queue. Every key shares the hash tag `{q:<name>}` so that a Redis
 * Cluster puts them in one slot and the Lua scripts can touch them together.
 *
 *   {q:main}:seq           string  arrival counter
 *   {q:main}:waiting       zset    token -> arrival number (rank = ZRANK + 1)
 *   {q:main}:seen          zset    token -> last heartbeat of a waiting token (ms)
 *   {q:main}:active        zset    token -> expiry of an admitted token (ms)
 *   {q:main}:t:<token>     hash    u = userId, st = W|A|F, at = arrived at, r = finish reason, fa = finished at
 *   {q:main}:u:<userId>    string  the user's live token (one place per user)
 *   {q:main}:tick          string  last tick slot that ran
 *   {q:main}:admits        zset    admissions of the last minute
 *   {q:main}:rate          string  admitted per second over the last minute
 *   {q:main}:cfg           hash    live admission settings set by operators
 *   {q:main}:stats         hash    running totals
 */
export interface QueueKeys {
  prefix: string;
  seq: string;
  waiting: string;
  seen: string;
  active: string;
  tick: string;
  admits: string;
  rate: string;
  cfg: string;
  stats: string;
}

export function queueKeys(name: string): QueueKeys {
  const prefix = `{q:${name}}:`;
  return {
    prefix,
    seq: `${prefix}seq`,
    waiting: `${prefix}waiting`,
    seen: `${prefix}seen`,
    active: `${prefix}active`,
    tick: `${prefix}tick`,
    admits: `${prefix}admits`,
    rate: `${prefix}rate`,
    cfg: `${prefix}cfg`,
    stats: `${prefix}stats`,
  };
}
