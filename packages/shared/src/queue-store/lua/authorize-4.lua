-- Checks a token on a protected route and counts the request as its use (sliding active TTL).
-- KEYS[1] waiting, KEYS[2] seen, KEYS[3] active, KEYS[4] users (see issue-token-5.lua)
-- ARGV[1] key prefix, ARGV[2] token, ARGV[3] active TTL ms, ARGV[4] retention ms, ARGV[5] payment replay ms,
-- ARGV[6] clock ('' = Redis TIME)
-- Returns {1, userId, expiry} active | {2, userId} finished by payment within the replay window
--         {-1} unknown | {-3, userId} still waiting | {-4, userId} expired or finished
--@include common
local prefix, token = ARGV[1], ARGV[2]
local ttlMs, retentionMs, replayMs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = hmget(prefix .. 't:' .. token, 'u', 'st', 'r', 'fa')
local userId, st = h[1], h[2]
if not userId then
  local waiting = waitingUser(KEYS[4], KEYS[1], token)
  if waiting then return {-3, waiting} end
  return {-1}
end
local now = nowMs(ARGV[6])
if st == 'A' then
  local exp = tonumber(str(redis.call('ZSCORE', KEYS[3], token)))
  if exp and exp > now then
    if now + ttlMs > exp then
      exp = now + ttlMs
      redis.call('ZADD', KEYS[3], exp, token)
    end
    return {1, userId, exp}
  end
  finishToken(prefix, KEYS[1], KEYS[2], KEYS[3], KEYS[4], token, userId, 'expired', now, retentionMs)
  return {-4, userId}
end
if st == 'F' and h[3] == 'paid' and now - tonumber(h[4] or 0) <= replayMs then return {2, userId} end
return {-4, userId}
