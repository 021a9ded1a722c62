-- Keeps an active token alive at least until untilMs (booking: to cover a seat hold).
-- KEYS[1] active (see issue-token-5.lua)
-- ARGV[1] prefix, ARGV[2] token, ARGV[3] until (ms, Redis clock)
-- Returns 1 extended or already later | 0 token not active
local st = redis.call('HGET', ARGV[1] .. 't:' .. ARGV[2], 'st')
-- (HGET of a missing field is false in Redis and in ioredis-mock alike)
if st ~= 'A' then return 0 end
local exp = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]))
if not exp then return 0 end
local untilMs = tonumber(ARGV[3])
if untilMs > exp then redis.call('ZADD', KEYS[1], untilMs, ARGV[2]) end
return 1
