-- Takes a live place per seat of one hold of one client address, or none past the cap.
-- KEYS, ARGV and codes arrive as locals named in client-holds.ts (reserveScript):
-- holdsKey (the address's sorted set); ARGV: nowMs (places scored at or before it have lapsed),
-- untilMs (the places' score: the forward timeout), maxLive, place (the hold's id), seats
-- Members: "f:<place>:<i>" for the hold on its way (i = 1..seats), "r:<reservationId>" once made.
-- Returns RESERVED | LIMIT (taking none)
redis.call('ZREMRANGEBYSCORE', holdsKey, '-inf', nowMs)
if redis.call('ZCARD', holdsKey) + seats > maxLive then return LIMIT end
for i = 1, seats do
  redis.call('ZADD', holdsKey, untilMs, 'f:' .. place .. ':' .. i)
end
redis.call('PEXPIREAT', holdsKey, untilMs, 'NX')
redis.call('PEXPIREAT', holdsKey, untilMs, 'GT')
return RESERVED
