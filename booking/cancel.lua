-- Cancel a held or confirmed booking. A confirmed place re-enters its bucket at release_at
-- (a random delay, so scalpers cannot cancel and grab); a hold returns at once.
-- KEYS: 1 hl:bk:<tcode> 2 ids 3 q 4 ret 5 hl:holds 6 pid bk 7 pid days 8 phone bk 9 hl:events
--       10 hl:rl:p:<msisdn>:<min> (rate limit of the caller, '' key unused when ARGV[4] == '')
--       11 hl:pid:H:cx (the ID's cancels)  12 hl:bl:H  13 hl:bl:index
-- ARGV: 1 tcode  2 now  3 release_at  4 msisdn of the caller ('' = hospital/admin)
--       5 '1' if past the cancel deadline  6 ops per minute  7 reason  8 ID digest
--       9 cancel window (s)  10 cancels that bar (0 = off)  11 barred for (s)  12 hospital id
-- Returns ok | not_found | rate_limited | too_late | cancelled | checked_in | expired | no_show
local f = redis.call('HMGET', KEYS[1], 'status', 'msisdn')
if not f[1] or (ARGV[4] ~= '' and f[2] ~= ARGV[4]) then return 'not_found' end
if ARGV[4] ~= '' and over(KEYS[10], ARGV[6]) then return 'rate_limited' end
if f[1] ~= 'held' and f[1] ~= 'confirmed' then return f[1] end
if ARGV[5] == '1' then return 'too_late' end
local back = ARGV[3]
if f[1] == 'held' then back = ARGV[2] end
release({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]},
  ARGV[1], ARGV[2], back)
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[2], 'cancel_reason', ARGV[7])
if f[1] == 'confirmed' then
  local kind = 'cancelled'
  if ARGV[7] ~= 'patient' then kind = 'schedule_cancelled' end
  event(KEYS[9], kind, KEYS[1], ARGV[2], ARGV[7])
end
if f[1] == 'confirmed' and ARGV[7] == 'patient' and tonumber(ARGV[10]) > 0 then
  -- cancels count toward penalties (e.g. 3 in a month → barred for a month)
  local now = tonumber(ARGV[2])
  redis.call('ZADD', KEYS[11], now, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[11], '-inf', now - tonumber(ARGV[9]))
  redis.call('EXPIRE', KEYS[11], ARGV[9])
  local n = redis.call('ZCARD', KEYS[11])
  if n >= tonumber(ARGV[10]) then
    local untl = now + tonumber(ARGV[11])
    if untl > tonumber(redis.call('HGET', KEYS[12], 'until') or '0') then
      redis.call('HSET', KEYS[12], 'until', untl, 'since', ARGV[2], 'reason', 'cancel x' .. n,
        'hospital', ARGV[12])
      redis.call('ZADD', KEYS[13], untl, ARGV[8])
    end
  end
end
return 'ok'
