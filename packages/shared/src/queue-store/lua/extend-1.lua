-- Keeps an active token alive at least until a time (booking: to cover a seat hold): untilMs, or,
-- when untilMs is '', forMs from now on the script's clock (so the caller needs no Redis time first).
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (extendScript); activeKey as in issue-token-5.lua.
-- ARGV: prefix, token, untilMs (ms, Redis clock; '' = now + forMs), forMs (ms), clock ('' = Redis TIME)
-- Returns EXTENDED (extended or already later) | NOT_ACTIVE
--@include common
if hmget(prefix .. 't:' .. token, 'st')[1] ~= 'A' then return NOT_ACTIVE end
local exp = tonumber(str(redis.call('ZSCORE', activeKey, token)))
if not exp then return NOT_ACTIVE end
local target = tonumber(untilMs)
if not target then target = nowMs(clock) + tonumber(forMs) end
if target > exp then redis.call('ZADD', activeKey, target, token) end
return EXTENDED
