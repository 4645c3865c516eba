-- Set one session's reserve (places kept back for referrals and the green channel), overriding
-- the hospital's reserve_share. Never cancels: a reserve that would leave the remote, on-site or
-- reserve places below what is already taken there is refused and nothing changes.
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret
-- ARGV: 1 places 2 catalog reserve 3 remote quota 4 fallback 5 now 6 wanted reserve
-- Returns {'ok', places, reserve, remote quota} | {'closed'} | {'over', places}
--       | {'taken', remote + on-site taken, reserve taken}.
settle(KEYS[1], KEYS[2], ARGV[5])
local before, taken = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if not before then return {'closed'} end
local p = before.r + before.o + before.v
local want = tonumber(ARGV[6])
if want > p then return {'over', p} end
if taken.r + taken.o + want > p or taken.v > want then
  return {'taken', taken.r + taken.o, taken.v}
end
redis.call('HSET', KEYS[1], 'reserve', want)
local quota = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
return {'ok', p, quota.v, quota.r}
