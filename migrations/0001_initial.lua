-- 0001: the initial keyspace layout (see workers/src/keyspace.rs).
-- KEYS[1] = {prefix}schema_version   ARGV[1] = this migration's version
-- Idempotent: does nothing when the keyspace is already at or past this version.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(ARGV[1])
if current >= target then
  return current
end
-- Nothing to convert: version 1 is where the keyspace starts.
redis.call('SET', KEYS[1], target)
return target
