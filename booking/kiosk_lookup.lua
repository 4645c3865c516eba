-- A kiosk's lookup of a T-code under its limits on wrong codes, in one step: concurrent guesses
-- cannot slip between the check of a limit and the count of a failure, on any process or node.
-- Each limit is a sliding window: a sorted set of the times of the wrong codes it counted.
-- KEYS: 1 hl:bk:<tcode>, 2.. the failure logs (hl:kf:<kind>:<who>)
-- ARGV: 1 now (epoch s), 2 window (s), 3 '1' when the code is well formed, 4.. each log's limit
-- Returns {'ok', field, value, ...} (the booking hash), {'not_found'} (counted in every log), or
-- {'rate_limited', seconds until every full log has room again} (nothing looked up or counted).
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = 0
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local n, limit = redis.call('ZCARD', KEYS[i]), tonumber(ARGV[i + 2])
  if n >= limit then
    local oldest = redis.call('ZRANGE', KEYS[i], n - limit, n - limit, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
end
if wait > 0 then return {'rate_limited', tostring(math.max(1, math.ceil(wait)))} end
if ARGV[3] == '1' then
  local h = redis.call('HGETALL', KEYS[1])
  if #h > 0 then
    table.insert(h, 1, 'ok')
    return h
  end
end
for i = 2, #KEYS do
  -- unique per log: members added at one same time differ in the count before them
  redis.call('ZADD', KEYS[i], now, ARGV[1] .. '#' .. redis.call('ZCARD', KEYS[i]))
  redis.call('EXPIRE', KEYS[i], math.ceil(window) + 1)
end
return {'not_found'}
