-- 0002: live sessions are indexed in the zset {prefix}sessions (score = last activity,
-- unix seconds) so the debug view and the janitor need no KEYS/SCAN over sessions.
-- Builds the index from existing session records, in bounded SCAN steps.
-- KEYS[1] = {prefix}schema_version  KEYS[2] = {prefix}sessions
-- ARGV[1] = this migration's version  ARGV[2] = {prefix}  ARGV[3] = now (unix seconds)
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local target = tonumber(ARGV[1])
if current >= target then
  return current
end
local cursor = '0'
repeat
  local res = redis.call('SCAN', cursor, 'MATCH', ARGV[2] .. 'session:*:meta', 'COUNT', 1000)
  cursor = res[1]
  for _, key in ipairs(res[2]) do
    local sid = string.sub(key, #ARGV[2] + 9, #key - 5)
    redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[3]), sid)
  end
until cursor == '0'
redis.call('SET', KEYS[1], target)
return target
