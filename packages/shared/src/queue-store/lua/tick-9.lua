-- One admission tick. Every gateway instance calls it; it does its work at most once per tick slot
-- in total (the slot is floor(RedisTime / tickMs)), so N instances admit no more than one would.
-- KEYS[1] tick     string  "slot:tickMs" of the last tick that ran
-- KEYS[2] waiting, KEYS[3] seen, KEYS[4] active (see issue-token-5.lua)
-- KEYS[5] admits   zset    "slot:count" -> time (ms), admissions of the last minute
-- KEYS[6] rate     string  admitted per second over the last minute
-- KEYS[7] cfg      hash    live overrides: tickMs, batch, maxActive, paused ("1")
-- KEYS[8] stats    hash    running totals: admitted, expired, evicted, ticks
-- KEYS[9] users    hash    userId -> live token (see issue-token-5.lua)
-- ARGV[1] prefix, ARGV[2] tickMs, ARGV[3] batch, ARGV[4] maxActive, ARGV[5] active TTL ms,
-- ARGV[6] idle TTL ms, ARGV[7] retention ms, ARGV[8] most tokens expired/evicted per tick,
-- ARGV[9] clock ('' = Redis TIME)
-- Returns {ran (0|1), admitted, expired, evicted, tickMs, batch, maxActive, paused (0|1)} (the settings in force)
--@include common
local unpack = unpack or table.unpack
local prefix = ARGV[1]
local cfg = hmget(KEYS[7], 'tickMs', 'batch', 'maxActive', 'paused')
local tickMs = tonumber(cfg[1]) or tonumber(ARGV[2])
local batch = tonumber(cfg[2]) or tonumber(ARGV[3])
local maxActive = tonumber(cfg[3]) or tonumber(ARGV[4])
local paused = cfg[4] == '1'
local activeTtlMs, idleTtlMs, retentionMs, maxSweep = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])

local now = nowMs(ARGV[9])
local slot = math.floor(now / tickMs)
local mark = slot .. ':' .. tickMs
local pausedFlag = paused and 1 or 0
if redis.call('GET', KEYS[1]) == mark then return {0, 0, 0, 0, tickMs, batch, maxActive, pausedFlag} end
redis.call('SET', KEYS[1], mark, 'PX', tickMs * 2 + 1000)

-- Active tokens past their expiry give their slot back.
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, maxSweep)
for _, token in ipairs(expired) do
  local userId = hmget(prefix .. 't:' .. token, 'u')[1]
  finishToken(prefix, KEYS[2], KEYS[3], KEYS[4], KEYS[9], token, userId, 'expired', now, retentionMs)
end

-- Waiting users who stopped polling are dropped, not admitted (their token answers FINISHED/evicted).
local idle = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - idleTtlMs, 'LIMIT', 0, maxSweep)
for _, userId in ipairs(idle) do
  local token = str(redis.call('HGET', KEYS[9], userId))
  if token then
    finishToken(prefix, KEYS[2], KEYS[3], KEYS[4], KEYS[9], token, userId, 'evicted', now, retentionMs)
  else
    redis.call('ZREM', KEYS[2], userId)
    redis.call('ZREM', KEYS[3], userId)
  end
end

-- Admit from the head, up to the batch and never beyond maxActive: each admitted token gets its
-- own t:<token> hash (st A) and an active entry; the user's users entry stays (it is still live).
local admitted = 0
if not paused then
  local room = maxActive - redis.call('ZCARD', KEYS[4])
  local left = math.min(batch, room)
  local expiry = now + activeTtlMs
  while left > 0 do -- in chunks of at most 1,000 (Lua's unpack limit)
    local want = math.min(left, 1000)
    local head = redis.call('ZPOPMIN', KEYS[2], want)
    local users = {}
    for i = 1, #head, 2 do users[#users + 1] = head[i] end
    if #users == 0 then break end
    redis.call('ZREM', KEYS[3], unpack(users))
    local tokens = redis.call('HMGET', KEYS[9], unpack(users))
    local entries = {}
    for i, userId in ipairs(users) do
      local token = str(tokens[i])
      if token then
        redis.call('HSET', prefix .. 't:' .. token, 'u', userId, 'st', 'A')
        entries[#entries + 1] = expiry
        entries[#entries + 1] = token
        admitted = admitted + 1
      end
    end
    if #entries > 0 then redis.call('ZADD', KEYS[4], unpack(entries)) end
    if #users < want then break end
    left = left - want
  end
end

-- Admission rate over the last minute (for the wait estimate).
if admitted > 0 then redis.call('ZADD', KEYS[5], now, mark .. ':' .. admitted) end
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 60000)
local entries = redis.call('ZRANGE', KEYS[5], 0, -1, 'WITHSCORES')
if #entries == 0 then
  redis.call('DEL', KEYS[6])
else
  local sum = 0
  for i = 1, #entries, 2 do
    sum = sum + tonumber(string.match(entries[i], '(%d+)$'))
  end
  local window = math.min(60000, now - tonumber(entries[2]) + tickMs)
  redis.call('SET', KEYS[6], tostring(sum * 1000 / window))
end

redis.call('HINCRBY', KEYS[8], 'ticks', 1)
if admitted > 0 then redis.call('HINCRBY', KEYS[8], 'admitted', admitted) end
if #expired > 0 then redis.call('HINCRBY', KEYS[8], 'expired', #expired) end
if #idle > 0 then redis.call('HINCRBY', KEYS[8], 'evicted', #idle) end
return {1, admitted, #expired, #idle, tickMs, batch, maxActive, pausedFlag}
