-- A waiting client's poll: its state and rank; also its heartbeat.
-- KEYS[1] waiting, KEYS[2] seen, KEYS[3] active (see issue-token-4.lua), KEYS[4] rate (admitted/s over the last minute)
-- ARGV[1] key prefix, ARGV[2] token, ARGV[3] userId, ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns {1, rank, rate} waiting | {2, expiry} admitted | {3, 0, reason} finished
--         {-1} unknown token | {-2} token of another user
--@include common
local prefix, token, userId, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local h = hmget(prefix .. 't:' .. token, 'u', 'st', 'r')
if not h[1] then return {-1} end
if h[1] ~= userId then return {-2} end
local now = nowMs(ARGV[5])
if h[2] == 'W' then
  local rank = redis.call('ZRANK', KEYS[1], token)
  if rank then
    redis.call('ZADD', KEYS[2], 'XX', now, token)
    return {1, rank + 1, redis.call('GET', KEYS[4]) or ''}
  end
elseif h[2] == 'A' then
  local exp = tonumber(redis.call('ZSCORE', KEYS[3], token))
  if exp and exp > now then return {2, exp} end
  finishToken(prefix, KEYS[1], KEYS[2], KEYS[3], token, userId, 'expired', now, retentionMs)
  return {3, 0, 'expired'}
end
return {3, 0, h[3] or 'expired'}
