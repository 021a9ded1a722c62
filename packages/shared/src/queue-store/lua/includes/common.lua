-- Shared helpers, pasted into each script by the loader at the line `--@include common`.
-- Time comes from the Redis server, the one clock every gateway and booking instance shares.
-- A test may pass its own clock as the script's last ARGV; production passes '' and uses Redis TIME.
local function nowMs(injected)
  if injected and injected ~= '' then return tonumber(injected) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- HMGET whose missing fields are nil (ioredis-mock hands them to Lua as userdata, Redis as false).
local function hmget(key, ...)
  local raw = redis.call('HMGET', key, ...)
  local out = {}
  for i = 1, select('#', ...) do
    local v = raw[i]
    if v ~= false and v ~= nil and type(v) ~= 'userdata' then out[i] = tostring(v) end
  end
  return out
end

-- Ends a token: off the waiting, seen and active sets; marked finished with its reason and
-- kept answerable for retentionMs; the user's live-token pointer dropped so the user may queue again.
local function finishToken(prefix, waitingKey, seenKey, activeKey, token, userId, reason, now, retentionMs)
  redis.call('ZREM', waitingKey, token)
  redis.call('ZREM', seenKey, token)
  redis.call('ZREM', activeKey, token)
  local tokenKey = prefix .. 't:' .. token
  redis.call('HSET', tokenKey, 'st', 'F', 'r', reason, 'fa', tostring(now))
  redis.call('PEXPIRE', tokenKey, retentionMs)
  if userId then
    local userKey = prefix .. 'u:' .. userId
    if redis.call('GET', userKey) == token then redis.call('DEL', userKey) end
  end
end
