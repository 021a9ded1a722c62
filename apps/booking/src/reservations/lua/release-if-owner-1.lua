-- Deletes a seat-hold key only if it still holds our value (never someone else's hold).
-- KEYS, ARGV and codes arrive as locals named in seat-gate.ts (seatReleaseScript):
-- seatKey; ARGV: value (a pending owner, or "r:<reservationId>")
-- Returns RELEASED | NOT_OURS (not ours, or gone)
if redis.call('GET', seatKey) == value then
  redis.call('DEL', seatKey)
  return RELEASED
end
return NOT_OURS
