-- Keeps an active token alive at least until untilMs (booking: to cover a seat hold).
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (extendScript); activeKey as in issue-token-5.lua.
-- ARGV: prefix, token, untilMs (ms, Redis clock)
-- Returns EXTENDED (extended or already later) | NOT_ACTIVE
--@include common
if hmget(prefix .. 't:' .. token, 'st')[1] ~= 'A' then return NOT_ACTIVE end
local exp = tonumber(str(redis.call('ZSCORE', activeKey, token)))
if not exp then return NOT_ACTIVE end
if untilMs > exp then redis.call('ZADD', activeKey, untilMs, token) end
return EXTENDED
