-- Starts a rebuild of one performance's seat map: marks the map (creating it if missing) before
-- Postgres is read, so that the rebuild's write can tell whether the map was lost meanwhile.
-- KEYS, ARGV and codes arrive as locals named in seat-map.ts (seatMapBeginScript):
-- mapKey; ARGV: build (a new marker, used only when the map has none), ttlMs
-- Returns {BEGUN, the map's marker} (concurrent rebuilds share one marker: both read Postgres after it)
if redis.call('HSETNX', mapKey, 'building', build) == 1 and redis.call('PTTL', mapKey) < 0 then
  redis.call('PEXPIRE', mapKey, ttlMs)
end
return { BEGUN, redis.call('HGET', mapKey, 'building') }
