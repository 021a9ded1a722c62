-- Turns a hold's places into the reservations booking made (none: the places are freed).
-- KEYS, ARGV and codes arrive as locals named in client-holds.ts (settleScript):
-- holdsKey; ARGV: place and seats (as reserveScript took them), made ("<reservationId>:<expiresAtMs>"
-- for each reservation, comma-separated; empty when booking made none)
-- Returns SETTLED
for i = 1, seats do
  redis.call('ZREM', holdsKey, 'f:' .. place .. ':' .. i)
end
for reservationId, expiresAt in string.gmatch(made, '(%d+):(%d+)') do
  redis.call('ZADD', holdsKey, expiresAt, 'r:' .. reservationId)
  redis.call('PEXPIREAT', holdsKey, expiresAt, 'NX')
  redis.call('PEXPIREAT', holdsKey, expiresAt, 'GT')
end
return SETTLED
