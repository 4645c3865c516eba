-- Set a session's remote quota target (from a new share). Held and booked places never break:
-- lib.lua ``quotas`` keeps the quota in force between the places taken and what the desk left.
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret
-- ARGV: 1 places 2 reserve 3 catalog remote quota 4 fallback 5 now 6 wanted remote quota
-- Returns the remote quota now in force (-1 when the session is closed).
settle(KEYS[1], KEYS[2], ARGV[5])
redis.call('HSET', KEYS[1], 'rq', ARGV[6])
local quota = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if not quota then return -1 end
return quota.r
