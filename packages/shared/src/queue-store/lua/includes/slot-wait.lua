-- What blocked admission adds to a waiting user's wait (issue-token-5.lua, poll-5.lua), pasted by the loader.
-- The user at `rank` gets in once `rank` slots are free: the room left under `limit` (maxActive)
-- now, then one slot per active token that ends. Returns the ms until the k-th earliest active
-- expiry (k = rank - room; when k exceeds the active count, the last expiry) and how many slots
-- must still turn over after that (0 unless k exceeds the active count); 0, 0 when there is room
-- or no limit was given. Each expiry is bounded by its token's session cap; a payment that ends
-- a token early only shortens the wait.
local function slotWait(activeKey, rank, limit, now)
  if not limit then return 0, 0 end
  local active = redis.call('ZCARD', activeKey)
  local needed = rank - math.max(0, limit - active)
  if needed <= 0 then return 0, 0 end
  local k = math.min(needed, active)
  if k == 0 then return 0, needed end
  local e = redis.call('ZRANGE', activeKey, k - 1, k - 1, 'WITHSCORES')
  return math.max(0, tonumber(e[2]) - now), needed - k
end
