-- Turns a pending seat-hold key into the hold of a reservation, if we still own it.
-- KEYS[1] seat-hold key ({prefix}:seat:<concertDetailId>:<seatNo>)
-- ARGV[1] owner (the pending value we set with SET NX), ARGV[2] new value ("r:<reservationId>"),
-- ARGV[3] ttl ms (the hold's remaining time, measured on the database clock)
-- Returns { 1 set | 0 someone else owns it, Redis time in ms }
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('GET', KEYS[1])
-- a vanished key (expired, or Redis lost its data) is ours again: Postgres already decided
if v ~= ARGV[1] and v ~= false then return { 0, now } end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
return { 1, now }
