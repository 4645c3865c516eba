-- Change a session's remote quota without breaking held or booked places: the new quota is
-- clamped between the remote places taken and what the on-site desk has left over.
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret
-- ARGV: 1 places 2 reserve 3 catalog remote quota 4 fallback 5 now 6 wanted remote quota
-- Returns the remote quota now in force.
settle(KEYS[1], KEYS[2], ARGV[5])
local quota, taken = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0')
if not quota then return -1 end
local p = quota.r + quota.o
local rq = math.max(tonumber(ARGV[6]), taken.r)
rq = math.min(rq, p - taken.o)
redis.call('HSET', KEYS[1], 'rq', rq)
return rq
