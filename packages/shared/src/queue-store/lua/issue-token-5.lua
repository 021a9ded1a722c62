-- Gives a user their place in the queue: the live token they already hold, or a new one at the back.
-- KEYS[1] seq      string  last arrival score given
-- KEYS[2] waiting  zset    userId -> arrival score = max(ms × 1000, previous + 1) (the one order all instances share)
-- KEYS[3] seen     zset    userId -> last heartbeat (ms, Redis clock)
-- KEYS[4] active   zset    token -> expiry (ms, Redis clock)
-- KEYS[5] users    hash    userId -> live token (waiting or active)
-- ARGV[1] key prefix ("{q:name}:"), ARGV[2] userId, ARGV[3] new token (UUIDv8 carrying userId),
-- ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns {token, state, rank}: state 'W' with rank >= 1, or 'A' with rank 0.
--@include common
local prefix, userId, newToken, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = nowMs(ARGV[5])

local current = str(redis.call('HGET', KEYS[5], userId))
if current then
  local rank = zrank(KEYS[2], userId)
  if rank then
    redis.call('ZADD', KEYS[3], now, userId)
    return {current, 'W', rank + 1}
  end
  if hmget(prefix .. 't:' .. current, 'st')[1] == 'A' then
    local exp = tonumber(str(redis.call('ZSCORE', KEYS[4], current)))
    if exp and exp > now then return {current, 'A', 0} end
    finishToken(prefix, KEYS[2], KEYS[3], KEYS[4], KEYS[5], current, userId, 'expired', now, retentionMs)
  end
end

local score = now * 1000
local last = tonumber(str(redis.call('GET', KEYS[1])))
if last and last >= score then score = last + 1 end
score = string.format('%.0f', score)
redis.call('SET', KEYS[1], score)
redis.call('ZADD', KEYS[2], score, userId)
redis.call('ZADD', KEYS[3], now, userId)
redis.call('HSET', KEYS[5], userId, newToken)
return {newToken, 'W', zrank(KEYS[2], userId) + 1}
