-- Gives a user their place in the queue: a new token at the back, or the live token they already hold,
-- but that only to a caller who proves it is theirs (presents it, or was verified by the gateway):
-- anyone else who names the user is refused ALREADY_QUEUED and nothing changes (no heartbeat either).
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (issueScript); key layout in keys.ts:
--   seqKey      string  last arrival score given
--   waitingKey  zset    userId -> arrival score = max(ms × 1000, previous + 1) (the one order all instances share)
--   seenKey     zset    userId -> last heartbeat (ms, Redis clock)
--   activeKey   zset    token -> expiry (ms, Redis clock)
--   usersKey    hash    userId -> live token (waiting or active)
--   preKey      zset    a scheduled room before its opening: userId -> join ms (the pre-queue, no rank yet)
--   drawKey     hash    the opening's lottery record (unused here; the pre-queue is empty once drawn)
--   invKey      hash    a concert room's inventory (booking writes it): nothing free nor held = SOLD_OUT
-- ARGV: prefix ("{q:name}:"), userId, newToken (UUIDv8 carrying userId), presentedToken (the caller's
-- `token` header, '' = none), verified ('1' = the gateway verified the caller is the user), maxActive
-- (the admission limit in force; '' = not asked), retentionMs, opensAt / prequeueFrom / closesAt (ms;
-- '' = no schedule: the general room and unscheduled rooms), clock ('' = Redis TIME)
-- Returns {QUEUED | WAITING, token, rank >= 1, slotInMs, slotsAfter} | {ACTIVE, token} | {ALREADY_QUEUED}
--         | {PREQUEUED | PREWAITING, token, preCount} (a new / the caller's place in the pre-queue)
--         | {SALE_NOT_OPEN} before prequeueFrom | {SALE_CLOSED} from closesAt on | {SOLD_OUT} (new places only)
--   a rank counts the pre-queue ahead: before the draw everyone in `waiting` came after the opening
--   QUEUED: a new place was made by this call; WAITING: the caller's existing place
--   slotInMs, slotsAfter: what a full active set adds to the wait (includes/slot-wait.lua)
--@include common
--@include slot-wait
local now = nowMs(clock)
local opens, closes = tonumber(opensAt), tonumber(closesAt)
if closes and now >= closes then return {SALE_CLOSED} end
if opens and now < tonumber(prequeueFrom) then return {SALE_NOT_OPEN} end
local ahead = redis.call('ZCARD', preKey)
local inv = hmget(invKey, 'free', 'held')
local soldOut = inv[1] ~= nil and tonumber(inv[1]) == 0 and tonumber(inv[2] or 0) == 0

local current = str(redis.call('HGET', usersKey, userId))
if current then
  -- the live token is handed back only with proof that the caller is its holder
  local proven = verified == '1' or presentedToken == current
  if ahead > 0 and str(redis.call('ZSCORE', preKey, userId)) then
    if not proven then return {ALREADY_QUEUED} end
    redis.call('ZADD', seenKey, now, userId)
    return {PREWAITING, current, ahead}
  end
  local rank = zrank(waitingKey, userId)
  if rank then
    if not proven then return {ALREADY_QUEUED} end
    redis.call('ZADD', seenKey, now, userId)
    local slotInMs, slotsAfter = slotWait(activeKey, ahead + rank + 1, tonumber(maxActive), now)
    return {WAITING, current, ahead + rank + 1, slotInMs, slotsAfter}
  end
  if hmget(prefix .. 't:' .. current, 'st')[1] == 'A' then
    local exp = tonumber(str(redis.call('ZSCORE', activeKey, current)))
    if exp and exp > now then
      if not proven then return {ALREADY_QUEUED} end
      return {ACTIVE, current}
    end
    finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, current, userId, 'expired', now, retentionMs)
  end
end

if soldOut then return {SOLD_OUT} end
if opens and now < opens then
  -- the pre-queue: no rank until the opening's draw (a heartbeat keeps the place, as in the queue)
  redis.call('ZADD', preKey, now, userId)
  redis.call('ZADD', seenKey, now, userId)
  redis.call('HSET', usersKey, userId, newToken)
  return {PREQUEUED, newToken, ahead + 1}
end

local score = now * 1000
local last = tonumber(str(redis.call('GET', seqKey)))
if last and last >= score then score = last + 1 end
score = string.format('%.0f', score)
redis.call('SET', seqKey, score)
redis.call('ZADD', waitingKey, score, userId)
redis.call('ZADD', seenKey, now, userId)
redis.call('HSET', usersKey, userId, newToken)
local rank = ahead + zrank(waitingKey, userId) + 1
local slotInMs, slotsAfter = slotWait(activeKey, rank, tonumber(maxActive), now)
return {QUEUED, newToken, rank, slotInMs, slotsAfter}
