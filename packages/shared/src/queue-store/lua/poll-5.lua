-- A waiting client's poll: its state and rank; also its heartbeat.
-- KEYS[1] waiting, KEYS[2] seen, KEYS[3] active, KEYS[4] rate (admitted/s over the last minute),
-- KEYS[5] users (see issue-token-5.lua)
-- ARGV[1] key prefix, ARGV[2] token, ARGV[3] userId, ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns {1, rank, rate} waiting | {2, expiry} admitted | {3, 0, reason} finished
--         {-1} unknown token | {-2} token of another user
--@include common
local prefix, token, userId, retentionMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
-- waiting: the user's live token, and the user is in the queue
if str(redis.call('HGET', KEYS[5], userId)) == token then
  local rank = zrank(KEYS[1], userId)
  if rank then
    redis.call('ZADD', KEYS[2], 'XX', nowMs(ARGV[5]), userId)
    return {1, rank + 1, redis.call('GET', KEYS[4]) or ''}
  end
end
-- admitted or finished: the token's own hash
local h = hmget(prefix .. 't:' .. token, 'u', 'st', 'r')
if not h[1] then
  -- another user's waiting token?
  local owner = tokenUserId(token)
  if owner and owner ~= userId and waitingUser(KEYS[5], KEYS[1], token) then return {-2} end
  return {-1}
end
if h[1] ~= userId then return {-2} end
if h[2] == 'A' then
  local now = nowMs(ARGV[5])
  local exp = tonumber(str(redis.call('ZSCORE', KEYS[3], token)))
  if exp and exp > now then return {2, exp} end
  finishToken(prefix, KEYS[1], KEYS[2], KEYS[3], KEYS[5], token, userId, 'expired', now, retentionMs)
  return {3, 0, 'expired'}
end
return {3, 0, h[3] or 'expired'}
