-- The opening's lottery: moves the whole pre-queue into the queue in the order the drawing instance
-- computed (a CSPRNG permutation, see lottery.ts), once: ranks 1..N ahead of everyone who came
-- after the opening (their arrival scores are >= opensAt x 1000; these get scores below it).
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (drawScript); keys as in issue-token-7.lua.
-- ARGV: order (the drawn userIds, comma-separated), opensAt (ms), record (JSON of the audit record,
-- written to drawKey field `record`), clock ('' = Redis TIME)
-- Returns {DRAWN, moved, leftovers} | {ALREADY} (drawn before) | {NOT_YET} (before opensAt)
--   leftovers: pre-queued users missing from `order` (none unless one joined after the order was read),
--   appended behind in join order
--@include common
if redis.call('EXISTS', drawKey) == 1 then return {ALREADY} end
local now = nowMs(clock)
if now < opensAt then return {NOT_YET} end
local ids = {}
for id in string.gmatch(order, '[^,]+') do ids[#ids + 1] = id end
local total = redis.call('ZCARD', preKey)
local base = opensAt * 1000 - #ids - total - 1
local moved = 0
for i, userId in ipairs(ids) do
  if str(redis.call('ZSCORE', preKey, userId)) then
    redis.call('ZADD', waitingKey, string.format('%.0f', base + i), userId)
    redis.call('ZREM', preKey, userId)
    moved = moved + 1
  end
end
local rest = redis.call('ZRANGE', preKey, 0, -1)
for j, userId in ipairs(rest) do
  redis.call('ZADD', waitingKey, string.format('%.0f', base + #ids + j), userId)
end
redis.call('DEL', preKey)
redis.call('HSET', drawKey, 'record', record, 'moved', moved, 'leftovers', #rest, 'at', tostring(now))
return {DRAWN, moved, #rest}
