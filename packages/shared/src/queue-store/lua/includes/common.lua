-- Shared helpers, pasted into each script by the loader at the line `--@include common`.
-- Time comes from the Redis server, the one clock every gateway and booking instance shares.
-- A test may pass its own clock as the script's last ARGV; production passes '' and uses Redis TIME.
local function nowMs(injected)
  if injected and injected ~= '' then return tonumber(injected) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

--@include mock-shim

-- A Redis reply as a string, or nil when missing (Redis hands Lua false).
local function str(v)
  if v == false or v == nil then return nil end
  return tostring(v)
end

-- ZRANK as a number, or nil when the member is missing.
local function zrank(key, member)
  local r = redis.call('ZRANK', key, member)
  if type(r) == 'number' then return r end
  return nil
end

-- HMGET whose missing fields are nil.
local function hmget(key, ...)
  local raw = redis.call('HMGET', key, ...)
  local out = {}
  for i = 1, select('#', ...) do out[i] = hmgetField(raw[i]) end
  return out
end

-- The user id (decimal string) a queue token carries, or nil if it is not a queue token:
-- a UUIDv8 whose last 8 hex digits are the user id (see keys.ts), at most MAX_ID (api.ts, via the loader).
local function tokenUserId(token)
  if type(token) ~= 'string' or #token ~= 36 or string.sub(token, 15, 15) ~= '8' then return nil end
  if not string.find(token, '^%x%x%x%x%x%x%x%x%-%x%x%x%x%-8%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$') then return nil end
  local id = tonumber(string.sub(token, 29, 36), 16)
  if not id or id < 1 or id > MAX_ID then return nil end
  return string.format('%d', id)
end

-- The user's live token if it is `token` and the user waits in the queue, else nil.
-- (A waiting token has no key of its own: it is users[userId] while userId is in `waiting`.)
local function waitingUser(usersKey, waitingKey, token)
  local userId = tokenUserId(token)
  if not userId or str(redis.call('HGET', usersKey, userId)) ~= token then return nil end
  if not str(redis.call('ZSCORE', waitingKey, userId)) then return nil end
  return userId
end

-- Ends a token: off the active set; if it is still the user's live token, the user's waiting,
-- seen and users entries go too (so the user may queue again); marked finished with its reason
-- in t:<token> and kept answerable for retentionMs.
local function finishToken(prefix, waitingKey, seenKey, activeKey, usersKey, token, userId, reason, now, retentionMs)
  redis.call('ZREM', activeKey, token)
  local tokenKey = prefix .. 't:' .. token
  if userId then
    if str(redis.call('HGET', usersKey, userId)) == token then
      redis.call('HDEL', usersKey, userId)
      redis.call('ZREM', waitingKey, userId)
      redis.call('ZREM', seenKey, userId)
    end
    redis.call('HSET', tokenKey, 'u', userId, 'st', 'F', 'r', reason, 'fa', tostring(now))
  else
    redis.call('HSET', tokenKey, 'st', 'F', 'r', reason, 'fa', tostring(now))
  end
  redis.call('PEXPIRE', tokenKey, retentionMs)
end
