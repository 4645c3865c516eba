-- Cancel a held or confirmed booking. A confirmed place re-enters its bucket at release_at
-- (a random delay, so scalpers cannot cancel and grab); a hold returns at once.
-- KEYS: 1 hl:bk:<tcode> 2 ids 3 q 4 ret 5 hl:holds 6 pid bk 7 pid days 8 phone bk 9 hl:events
--       10 hl:rl:p:<msisdn>:<min> (rate limit of the caller, '' key unused when ARGV[4] == '')
-- ARGV: 1 tcode  2 now  3 release_at  4 msisdn of the caller ('' = hospital/admin)
--       5 '1' if past the cancel deadline  6 ops per minute  7 reason
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
return 'ok'
