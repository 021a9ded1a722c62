-- Takes back a place the issue just made but could not have acknowledged (too few replicas have it):
-- the client was answered 503 without the token, so the place must not stay behind to lock it out.
-- KEYS, ARGV and codes arrive as locals named in scripts.ts (withdrawScript); keys as in issue-token-5.lua.
-- ARGV: userId, token (the new place's)
-- Returns WITHDRAWN | KEPT (the user's live token is another one, or it is no longer waiting: admitted meanwhile)
--@include common
if str(redis.call('HGET', usersKey, userId)) ~= token then return KEPT end
if not redis.call('ZSCORE', waitingKey, userId) then return KEPT end
redis.call('ZREM', waitingKey, userId)
redis.call('ZREM', seenKey, userId)
redis.call('HDEL', usersKey, userId)
return WITHDRAWN
