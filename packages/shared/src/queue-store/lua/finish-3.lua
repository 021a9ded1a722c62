-- Ends a token for a reason ('paid', 'expired', 'evicted', 'cancelled').
-- KEYS[1] waiting, KEYS[2] seen, KEYS[3] active
-- ARGV[1] prefix, ARGV[2] token, ARGV[3] reason, ARGV[4] retention ms, ARGV[5] clock ('' = Redis TIME)
-- Returns 1 finished now | 0 unknown or already finished
--@include common
local h = hmget(ARGV[1] .. 't:' .. ARGV[2], 'u', 'st')
if not h[1] or h[2] == 'F' then return 0 end
finishToken(ARGV[1], KEYS[1], KEYS[2], KEYS[3], ARGV[2], h[1], ARGV[3], nowMs(ARGV[5]), tonumber(ARGV[4]))
return 1
