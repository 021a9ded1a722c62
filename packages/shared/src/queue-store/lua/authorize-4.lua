-- Checks a token on a protected route and counts the request as its use: the expiry slides to
-- now + activeTtlMs, but never past the session's cap (t:<token> field `cap`, written at admission).
-- Past the cap only a hold's extension (extend-1.lua) keeps the token alive, and only for the
-- routes that finish a purchase (overtimeOk = 1: payment); nothing renews it.
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (authorizeScript); keys as in issue-token-5.lua.
-- ARGV: prefix, token, activeTtlMs, sessionMaxMs (the cap of a token admitted before caps existed,
-- counted from its first use), overtimeOk (1 | 0), retentionMs, replayMs (payment replay window),
-- clock ('' = Redis TIME)
-- Returns {ACTIVE, userId, expiry} | {REPLAY, userId} finished by payment within the replay window
--         {UNKNOWN_TOKEN} | {STILL_WAITING, userId} | {TOKEN_USED, userId} expired or finished
--         {SESSION_OVER, userId} past its cap, kept alive by a hold, on a route other than payment
--@include common
local tokenKey = prefix .. 't:' .. token
local h = hmget(tokenKey, 'u', 'st', 'r', 'fa', 'cap')
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
    local cap = tonumber(h[5])
    if not cap then
      cap = now + sessionMaxMs
      redis.call('HSET', tokenKey, 'cap', string.format('%.0f', cap))
    end
    if now >= cap then
      if overtimeOk == 1 then return {ACTIVE, userId, exp} end
      return {SESSION_OVER, userId}
    end
    local slid = math.min(now + activeTtlMs, cap)
    if slid > exp then
      exp = slid
      redis.call('ZADD', activeKey, exp, token)
    end
    return {ACTIVE, userId, exp}
  end
  finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, 'expired', now, retentionMs)
  return {TOKEN_USED, userId}
end
if st == 'F' and h[3] == 'paid' and now - tonumber(h[4] or 0) <= replayMs then return {REPLAY, userId} end
return {TOKEN_USED, userId}
