-- Writes seat states into one performance's seat map, each only over an older version.
-- KEYS, ARGV and codes arrive as locals named in seat-map.ts (seatMapWriteScript):
-- mapKey (<prefix>:seatmap:{<concertDetailId>}); ARGV: entries ("<seatNo>:<version>:<state>;..."),
-- meta ("" for a change; "<startsAtMs>:<price>" for a rebuild from Postgres, which marks the map
-- ready), build (a rebuild's marker from seat-map-begin: the map must still carry it, else it was
-- lost after the rebuild read Postgres and a change since then may be missing), ttlMs (how long a
-- rebuilt map, or a map a change starts, lives)
-- Once ready, the map also keeps `view`, all the gateway reads (one string, rewritten here after
-- every write): "<startsAtMs>;<price>;<free seats, ascending>;<held seat>:<untilMs>,..."
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
if redis.call('HGET', mapKey, 'ready') == '1' then
  local fields = redis.call('HGETALL', mapKey)
  local seats, states = {}, {}
  for i = 1, #fields, 2 do
    local seat = tonumber(fields[i])
    if seat then
      seats[#seats + 1] = seat
      states[seat] = string.match(fields[i + 1], '^%d+:(.*)$')
    end
  end
  table.sort(seats)
  local free, held = {}, {}
  for _, seat in ipairs(seats) do
    local state = states[seat]
    if state == 'F' then
      free[#free + 1] = seat
    elseif string.sub(state, 1, 1) == 'H' then
      held[#held + 1] = seat .. ':' .. string.sub(state, 2)
    end
  end
  local at, price = redis.call('HGET', mapKey, 'at'), redis.call('HGET', mapKey, 'price')
  redis.call('HSET', mapKey, 'view', at .. ';' .. price .. ';' .. table.concat(free, ',') .. ';' .. table.concat(held, ','))
end
return WRITTEN
