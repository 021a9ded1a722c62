-- Turns a pending seat-hold key into the hold of a reservation, if we still own it.
-- KEYS, ARGV and codes arrive as locals named in seat-gate.ts (seatConfirmScript):
-- seatKey (<prefix>:seat:{<concertDetailId>}:<seatNo>); ARGV: owner (the pending value we set with
-- SET NX), value ("r:<reservationId>"), ttlMs (the hold's remaining time, measured on the database clock)
-- Returns CONFIRMED | TAKEN (someone else owns it)
local v = redis.call('GET', seatKey)
-- a vanished key (expired, or Redis lost its data) is ours again: Postgres already decided
if v ~= owner and v ~= false then return TAKEN end
redis.call('SET', seatKey, value, 'PX', ttlMs)
return CONFIRMED
