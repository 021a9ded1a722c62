-- Writes seat states into one performance's seat map, each only over an older version.
-- KEYS, ARGV and codes arrive as locals named in seat-map.ts (seatMapWriteScript):
-- mapKey (<prefix>:seatmap:{<concertDetailId>}); ARGV: entries ("<seatNo>:<version>:<state>;..."),
-- meta ("" for a change; "<startsAtMs>:<price>" for a rebuild from Postgres, which marks the map
-- ready), build (a rebuild's marker from seat-map-begin: the map must still carry it, else it was
-- lost after the rebuild read Postgres and a change since then may be missing), ttlMs (how long a
-- rebuilt map, or a map a change starts, lives)
-- Returns WRITTEN | STALE_BUILD (nothing written)
if meta ~= '' and redis.call('HGET', mapKey, 'building') ~= build then return STALE_BUILD end
local fresh = redis.call('EXISTS', mapKey) == 0
for seat, version, state in string.gmatch(entries, '(%d+):(%d+):([^;]*)') do
  local current = redis.call('HGET', mapKey, seat)
  local currentVersion = -1
  if current then currentVersion = tonumber(string.match(current, '^(%d+)')) end
  if tonumber(version) > currentVersion then redis.call('HSET', mapKey, seat, version .. ':' .. state) end
end
if meta ~= '' then
  local at, price = string.match(meta, '^(%d+):(%d+)$')
  redis.call('HSET', mapKey, 'at', at, 'price', price, 'ready', '1')
  redis.call('PEXPIRE', mapKey, ttlMs)
elseif fresh then
  redis.call('PEXPIRE', mapKey, ttlMs)
end
return WRITTEN
