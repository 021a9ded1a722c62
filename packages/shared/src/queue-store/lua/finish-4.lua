-- Ends a token for a reason ('paid', 'expired', 'evicted', 'cancelled'), admitted or still waiting.
-- KEYS[1] waiting, KEYS[2] seen, KEYS[3] active, KEYS[4] users (see issue-token-5.lua)
-- ARGV[1] prefix, ARGV[2] token, ARGV[3] reason, ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns 1 finished now | 0 unknown or already finished
--@include common
local prefix, token = ARGV[1], ARGV[2]
local h = hmget(prefix .. 't:' .. token, 'u', 'st')
local userId = h[1]
if userId then
  if h[2] == 'F' then return 0 end
else
  userId = waitingUser(KEYS[4], KEYS[1], token)
  if not userId then return 0 end
end
finishToken(prefix, KEYS[1], KEYS[2], KEYS[3], KEYS[4], token, userId, ARGV[3], nowMs(ARGV[5]), tonumber(ARGV[4]))
return 1
