-- Check a booking in, once (confirmed -> checked_in). Same refusal order as rules.check_in_refusal.
-- KEYS: 1 hl:bk:<tcode>, 2 the session's queue counter (keys.queue_numbers)   ARGV: 1 today (YYYY-MM-DD, hospital time), 2 now (epoch s), 3 kiosk id
--       4 window opens, 5 window closes (epoch s; '' = no window check)
-- Returns {'ok', field, value, ...} (the updated hash) or {error code}.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'not_found'} end
if status == 'cancelled' then return {'cancelled'} end
if redis.call('HGET', KEYS[1], 'day') ~= ARGV[1] then return {'not_today'} end
if status == 'checked_in' then return {'already_checked_in'} end
if status ~= 'confirmed' then return {status} end
if ARGV[4] and ARGV[4] ~= '' then
  if tonumber(ARGV[2]) < tonumber(ARGV[4]) then return {'too_early'} end
  if tonumber(ARGV[2]) > tonumber(ARGV[5]) then return {'too_late'} end
end
redis.call('HSET', KEYS[1], 'status', 'checked_in', 'checked_in_at', ARGV[2], 'kiosk_id', ARGV[3])
-- the queue number in arrival order within the session; the counter outlives the day by a day
redis.call('HSET', KEYS[1], 'queue_no', redis.call('INCR', KEYS[2]))
redis.call('EXPIRE', KEYS[2], 2 * 86400)
local all = redis.call('HGETALL', KEYS[1])
table.insert(all, 1, 'ok')
return all
