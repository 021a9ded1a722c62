-- Ends a token for a reason ('paid', 'expired', 'evicted', 'cancelled'), admitted or still waiting.
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (finishScript); keys as in issue-token-5.lua.
-- ARGV: prefix, token, reason, retentionMs, clock ('' = Redis TIME)
-- Returns FINISHED (finished now) | UNKNOWN_OR_FINISHED
--@include common
local h = hmget(prefix .. 't:' .. token, 'u', 'st')
local userId = h[1]
if userId then
  if h[2] == 'F' then return UNKNOWN_OR_FINISHED end
else
  userId = waitingUser(usersKey, waitingKey, token)
  if not userId then return UNKNOWN_OR_FINISHED end
end
finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, reason, nowMs(clock), retentionMs)
return FINISHED
