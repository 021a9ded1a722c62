-- One admission tick. Every gateway instance calls it; it does its work at most once per tick slot
-- in total (the slot is floor(RedisTime / tickMs)), so N instances admit no more than one would.
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (tickScript); keys as in issue-token-5.lua, and:
--   tickKey    string  "slot:tickMs" of the last tick that ran
--   admitsKey  zset    "slot:count" -> time (ms), admissions of the last minute
--   rateKey    string  admitted per second over the last minute
--   cfgKey     hash    live overrides: tickMs, batch, maxActive, paused ("1")
--   statsKey   hash    running totals: admitted, expired, evicted, ticks, closed
--   preKey     zset    the pre-queue of a scheduled room (its idle places are dropped here too)
--   drawKey    hash    the opening's lottery record: admission waits for it while a pre-queue waits
--   invKey     hash    a concert room's inventory (booking writes it: free, held, sold)
-- ARGV: prefix, defaultTickMs, defaultBatch, defaultMaxActive (overridden by cfg), activeTtlMs, sessionMaxMs, idleTtlMs,
-- retentionMs, maxSweep (most tokens expired/evicted per tick), opensAt / closesAt (ms, '' = none): nobody is
-- admitted before the opening (nor, while a pre-queue waits, before its draw), and from closesAt on
-- every waiting and pre-queued user is finished 'closed' (admitted ones keep their session), admitPerFreeSeat
-- ('' = no inventory rule): with an inventory, at most admitPerFreeSeat x free are active, and with nothing
-- free nor held everyone waiting is finished 'sold_out', clock ('' = Redis TIME)
-- Returns {RAN | SKIPPED, admitted, expired, evicted, tickMs, batch, maxActive, paused (0|1), waiting, active}
--   (the settings in force; how many wait (pre-queue included) and are active after it: an idle room needs no tick soon)
--@include common
local unpack = unpack or table.unpack
local cfg = hmget(cfgKey, 'tickMs', 'batch', 'maxActive', 'paused')
local tickMs = tonumber(cfg[1]) or defaultTickMs
local batch = tonumber(cfg[2]) or defaultBatch
local maxActive = tonumber(cfg[3]) or defaultMaxActive
local paused = cfg[4] == '1'

local now = nowMs(clock)
local slot = math.floor(now / tickMs)
local mark = slot .. ':' .. tickMs
local pausedFlag = paused and 1 or 0
if redis.call('GET', tickKey) == mark then
  return {SKIPPED, 0, 0, 0, tickMs, batch, maxActive, pausedFlag, redis.call('ZCARD', waitingKey) + redis.call('ZCARD', preKey), redis.call('ZCARD', activeKey)}
end
redis.call('SET', tickKey, mark, 'PX', tickMs * 2 + 1000)
local opens, closes = tonumber(opensAt), tonumber(closesAt)

-- Active tokens past their expiry give their slot back.
local expired = redis.call('ZRANGEBYSCORE', activeKey, '-inf', now, 'LIMIT', 0, maxSweep)
for _, token in ipairs(expired) do
  local userId = hmget(prefix .. 't:' .. token, 'u')[1]
  finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, 'expired', now, retentionMs)
end

-- Waiting users who stopped polling are dropped, not admitted (their token answers FINISHED/evicted).
local idle = redis.call('ZRANGEBYSCORE', seenKey, '-inf', now - idleTtlMs, 'LIMIT', 0, maxSweep)
for _, userId in ipairs(idle) do
  local token = str(redis.call('HGET', usersKey, userId))
  if token then
    finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, 'evicted', now, retentionMs)
  else
    redis.call('ZREM', waitingKey, userId)
    redis.call('ZREM', seenKey, userId)
  end
  redis.call('ZREM', preKey, userId)
end

-- The inventory: nothing free nor held is sold out; seats free bound the active set.
local inv = hmget(invKey, 'free', 'held')
local free, perFree = tonumber(inv[1]), tonumber(admitPerFreeSeat)
local soldOut = free ~= nil and free == 0 and tonumber(inv[2] or 0) == 0

-- From the close on (or once sold out), the waiting and the pre-queued are told so (a bounded number per tick).
local closed = 0
local ending = nil
if closes and now >= closes then ending = 'closed' elseif soldOut then ending = 'sold_out' end
if ending then
  for _, key in ipairs({preKey, waitingKey}) do
    local users = {}
    if closed < maxSweep then users = redis.call('ZRANGE', key, 0, maxSweep - closed - 1) end
    for _, userId in ipairs(users) do
      local token = str(redis.call('HGET', usersKey, userId))
      if token then finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, ending, now, retentionMs) end
      redis.call('ZREM', key, userId)
      redis.call('ZREM', seenKey, userId)
      closed = closed + 1
    end
  end
end
local notOpen = opens and (now < opens or (redis.call('EXISTS', drawKey) == 0 and redis.call('ZCARD', preKey) > 0))

-- Admit from the head, up to the batch and never beyond maxActive: each admitted token gets its
-- own t:<token> hash (st A, and its session's absolute end `cap`, which authorize never slides past)
-- and an active entry; the user's users entry stays (it is still live).
local admitted = 0
if not paused and not notOpen and not ending then
  local limit = maxActive
  if free ~= nil and perFree then limit = math.min(limit, math.floor(perFree * free)) end
  local room = limit - redis.call('ZCARD', activeKey)
  local left = math.min(batch, room)
  local cap = now + sessionMaxMs
  local expiry = math.min(now + activeTtlMs, cap)
  local capField = string.format('%.0f', cap)
  while left > 0 do -- in chunks of at most 1,000 (Lua's unpack limit)
    local want = math.min(left, 1000)
    local head = redis.call('ZPOPMIN', waitingKey, want)
    local users = {}
    for i = 1, #head, 2 do users[#users + 1] = head[i] end
    if #users == 0 then break end
    redis.call('ZREM', seenKey, unpack(users))
    local tokens = hmget(usersKey, unpack(users))
    local entries = {}
    for i, userId in ipairs(users) do
      local token = tokens[i]
      if token then
        redis.call('HSET', prefix .. 't:' .. token, 'u', userId, 'st', 'A', 'cap', capField)
        entries[#entries + 1] = expiry
        entries[#entries + 1] = token
        admitted = admitted + 1
      end
    end
    if #entries > 0 then redis.call('ZADD', activeKey, unpack(entries)) end
    if #users < want then break end
    left = left - want
  end
end

-- Admission rate over the last minute (for the wait estimate).
if admitted > 0 then redis.call('ZADD', admitsKey, now, mark .. ':' .. admitted) end
redis.call('ZREMRANGEBYSCORE', admitsKey, '-inf', now - 60000)
local entries = redis.call('ZRANGE', admitsKey, 0, -1, 'WITHSCORES')
if #entries == 0 then
  redis.call('DEL', rateKey)
else
  local sum = 0
  for i = 1, #entries, 2 do
    sum = sum + tonumber(string.match(entries[i], '(%d+)$'))
  end
  local window = math.min(60000, now - tonumber(entries[2]) + tickMs)
  redis.call('SET', rateKey, tostring(sum * 1000 / window))
end

redis.call('HINCRBY', statsKey, 'ticks', 1)
if admitted > 0 then redis.call('HINCRBY', statsKey, 'admitted', admitted) end
if #expired > 0 then redis.call('HINCRBY', statsKey, 'expired', #expired) end
if #idle > 0 then redis.call('HINCRBY', statsKey, 'evicted', #idle) end
if closed > 0 then redis.call('HINCRBY', statsKey, 'closed', closed) end
return {RAN, admitted, #expired, #idle, tickMs, batch, maxActive, pausedFlag, redis.call('ZCARD', waitingKey) + redis.call('ZCARD', preKey), redis.call('ZCARD', activeKey)}
