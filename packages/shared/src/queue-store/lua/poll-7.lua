-- A waiting client's poll: its state and rank; also its heartbeat.
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (pollScript); keys as in issue-token-5.lua,
-- rateKey: admitted/s over the last minute, preKey: the pre-queue (a scheduled room before its draw),
-- invKey: a concert room's inventory (booking writes it).
-- ARGV: prefix, token, userId, maxActive (the admission limit in force; '' = not asked), retentionMs,
-- clock ('' = Redis TIME)
-- Returns {WAITING, rank, rate, slotInMs, slotsAfter, heldIfNoneFree} | {PREQUEUED, preCount} | {ADMITTED, expiry} | {FINISHED, reason}
--         | {UNKNOWN_TOKEN} | {OTHER_USER}
--   slotInMs, slotsAfter: what a full active set adds to the wait (includes/slot-wait.lua)
--   heldIfNoneFree: -1, or when no seat is free now, how many are held (they may come back)
--@include common
--@include slot-wait

-- waiting: the user's live token, and the user is in the queue
if str(redis.call('HGET', usersKey, userId)) == token then
  local ahead = redis.call('ZCARD', preKey)
  if ahead > 0 and str(redis.call('ZSCORE', preKey, userId)) then
    redis.call('ZADD', seenKey, 'XX', nowMs(clock), userId)
    return {PREQUEUED, ahead}
  end
  local rank = zrank(waitingKey, userId)
  if rank then
    local now = nowMs(clock)
    redis.call('ZADD', seenKey, 'XX', now, userId)
    -- before the draw, everyone still in the pre-queue is ahead of whoever came after the opening
    local slotInMs, slotsAfter = slotWait(activeKey, ahead + rank + 1, tonumber(maxActive), now)
    local inv = hmget(invKey, 'free', 'held')
    local heldIfNoneFree = -1
    if inv[1] ~= nil and tonumber(inv[1]) == 0 then heldIfNoneFree = tonumber(inv[2] or 0) end
    return {WAITING, ahead + rank + 1, redis.call('GET', rateKey) or '', slotInMs, slotsAfter, heldIfNoneFree}
  end
end
-- admitted or finished: the token's own hash
local h = hmget(prefix .. 't:' .. token, 'u', 'st', 'r')
if not h[1] then
  -- another user's waiting token?
  local owner = tokenUserId(token)
  if owner and owner ~= userId and waitingUser(usersKey, waitingKey, token) then return {OTHER_USER} end
  return {UNKNOWN_TOKEN}
end
if h[1] ~= userId then return {OTHER_USER} end
if h[2] == 'A' then
  local now = nowMs(clock)
  local exp = tonumber(str(redis.call('ZSCORE', activeKey, token)))
  if exp and exp > now then return {ADMITTED, exp} end
  finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, 'expired', now, retentionMs)
  return {FINISHED, 'expired'}
end
return {FINISHED, h[3] or 'expired'}
