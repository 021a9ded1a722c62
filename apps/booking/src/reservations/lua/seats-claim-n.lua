-- Claims the seat-hold keys of every seat of a hold, or none (a several-seat hold is all or nothing).
-- KEYS, ARGV and codes arrive as locals named in seat-gate.ts (seatsClaimScript):
-- seatKeys (a table: every seat's <prefix>:seat:{<concertDetailId>}:<seatNo>, one hash slot);
-- ARGV: owner (the pending value, "p:<uuid>"), pendingMs (how long the claim lives if its holder dies)
-- Returns {CLAIMED} | {TAKEN, position, ...} (1-based positions in seatKeys of the seats already claimed)
local taken = {}
for i, key in ipairs(seatKeys) do
  if redis.call('EXISTS', key) == 1 then taken[#taken + 1] = i end
end
if #taken > 0 then return { TAKEN, unpack(taken) } end
for _, key in ipairs(seatKeys) do
  redis.call('SET', key, owner, 'PX', pendingMs)
end
return { CLAIMED }
