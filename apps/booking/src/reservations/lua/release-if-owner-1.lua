-- Deletes a seat-hold key only if it still holds our value (never someone else's hold).
-- KEYS[1] seat-hold key
-- ARGV[1] expected value (a pending owner, or "r:<reservationId>")
-- Returns 1 deleted | 0 not ours or gone
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
