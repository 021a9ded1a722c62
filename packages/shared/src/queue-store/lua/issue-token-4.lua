-- Gives a user their place in the queue: the live token they already hold, or a new one at the back.
-- KEYS[1] seq      string  arrival counter (the one sequence all gateway instances share)
-- KEYS[2] waiting  zset    token -> arrival number
-- KEYS[3] seen     zset    token -> last heartbeat (ms, Redis clock)
-- KEYS[4] active   zset    token -> expiry (ms, Redis clock)
-- ARGV[1] key prefix ("{q:name}:"), ARGV[2] userId, ARGV[3] new token (UUID), ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns {token, state, rank}: state 'W' with rank >= 1, or 'A' with rank 0.
--@include common
local prefix, userId, newToken, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = nowMs(ARGV[5])
local userKey = prefix .. 'u:' .. userId

local current = redis.call('GET', userKey)
if current then
  local st = hmget(prefix .. 't:' .. current, 'st')[1]
  if st == 'W' then
    local rank = redis.call('ZRANK', KEYS[2], current)
    if rank then
      redis.call('ZADD', KEYS[3], now, current)
      return {current, 'W', rank + 1}
    end
  elseif st == 'A' then
    local exp = tonumber(redis.call('ZSCORE', KEYS[4], current))
    if exp and exp > now then return {current, 'A', 0} end
    finishToken(prefix, KEYS[2], KEYS[3], KEYS[4], current, userId, 'expired', now, retentionMs)
  end
end

local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, newToken)
redis.call('ZADD', KEYS[3], now, newToken)
redis.call('HSET', prefix .. 't:' .. newToken, 'u', userId, 'st', 'W', 'at', tostring(now))
redis.call('SET', userKey, newToken)
return {newToken, 'W', redis.call('ZRANK', KEYS[2], newToken) + 1}
