-- A confirmed booking not checked in by the session end + grace becomes a no-show; enough
-- no-shows in the window bar the ID (the blacklist ladder).
-- KEYS: 1 hl:bk:<tcode>  2 hl:pid:<h>:ns  3 hl:bl:<h>  4 hl:bl:index  5 hl:events
-- ARGV: 1 tcode  2 now  3 window (s)  4 no-shows that bar  5 barred for (s)  6 id digest
--       7 hospital id
-- Returns {'no_show', until or ''} or {status it had}.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'confirmed' then return {status or 'gone'} end
local now = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'no_show', 'no_show_at', ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[3]))
redis.call('EXPIRE', KEYS[2], ARGV[3])
local barred = ''
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then
  local untl = now + tonumber(ARGV[5])
  local prior = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
  if untl > prior then
    redis.call('HSET', KEYS[3], 'until', untl, 'since', ARGV[2], 'reason',
      'no_show x' .. redis.call('ZCARD', KEYS[2]), 'hospital', ARGV[7])
    redis.call('ZADD', KEYS[4], untl, ARGV[6])
  end
  barred = tostring(untl)
end
local reason = ''
if barred ~= '' then reason = 'barred_until:' .. barred end
event(KEYS[5], 'no_show', KEYS[1], ARGV[2], reason)
return {'no_show', barred}
