-- Checks a token on a protected route and counts the request as its use (sliding active TTL).
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (authorizeScript); keys as in issue-token-5.lua.
-- ARGV: prefix, token, activeTtlMs, retentionMs, replayMs (payment replay window), clock ('' = Redis TIME)
-- Returns {ACTIVE, userId, expiry} | {REPLAY, userId} finished by payment within the replay window
--         {UNKNOWN_TOKEN} | {STILL_WAITING, userId} | {TOKEN_USED, userId} expired or finished
--@include common
local h = hmget(prefix .. 't:' .. token, 'u', 'st', 'r', 'fa')
local userId, st = h[1], h[2]
if not userId then
  local waiting = waitingUser(usersKey, waitingKey, token)
  if waiting then return {STILL_WAITING, waiting} end
  return {UNKNOWN_TOKEN}
end
local now = nowMs(clock)
if st == 'A' then
  local exp = tonumber(str(redis.call('ZSCORE', activeKey, token)))
  if exp and exp > now then
    if now + activeTtlMs > exp then
      exp = now + activeTtlMs
      redis.call('ZADD', activeKey, exp, token)
    end
    return {ACTIVE, userId, exp}
  end
  finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, 'expired', now, retentionMs)
  return {TOKEN_USED, userId}
end
if st == 'F' and h[3] == 'paid' and now - tonumber(h[4] or 0) <= replayMs then return {REPLAY, userId} end
return {TOKEN_USED, userId}
