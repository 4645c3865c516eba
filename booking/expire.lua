-- Release one unpaid hold whose deadline passed (the sweeper calls this for each due tcode).
-- KEYS: 1 hl:bk:<tcode> 2 ids 3 q 4 ret 5 hl:holds 6 pid bk 7 pid days 8 phone bk
-- ARGV: 1 tcode  2 now
-- Returns expired | later (deadline not reached) | the status it had (no longer a hold).
local st = redis.call('HMGET', KEYS[1], 'status', 'hold_until')
if st[1] ~= 'held' then
  redis.call('ZREM', KEYS[5], ARGV[1])
  return st[1] or 'gone'
end
if tonumber(st[2]) > tonumber(ARGV[2]) then return 'later' end
release(KEYS, ARGV[1], ARGV[2], ARGV[2])
redis.call('HSET', KEYS[1], 'status', 'expired', 'expired_at', ARGV[2])
return 'expired'
