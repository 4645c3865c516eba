-- Cancel a confirmed booking and give its remote place back.
-- KEYS: 1 hl:bk:<tcode>, 2 hl:{<dept>:<day>}:ids, 3 hl:{<dept>:<day>:<sess>}:n,
--       4 hl:{<dept>:<day>:<sess>}:codes
-- ARGV: 1 tcode, 2 id_number, 3 now (epoch s)
-- Returns 'ok' or the reason: not_found | cancelled | checked_in.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'not_found' end
if status ~= 'confirmed' then return status end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'cancelled_at', ARGV[3])
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[2]) end
if redis.call('SREM', KEYS[4], ARGV[1]) == 1 then redis.call('DECR', KEYS[3]) end
return 'ok'
