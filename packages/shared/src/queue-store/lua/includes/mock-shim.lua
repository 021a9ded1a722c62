-- ioredis-mock shim. The unit tests run these scripts on ioredis-mock, which hands Lua a missing
-- field of an HMGET reply as a userdata null where Redis hands false; every other reply it gives
-- as Redis does. HMGET's fields all pass through here (common.lua's hmget), so nothing else in the
-- scripts needs to know about the mock. On Redis this is the plain false check.
local function hmgetField(v)
  if v == false or v == nil or type(v) == 'userdata' then return nil end
  return tostring(v)
end
