-- Read-only: places left per bucket in one session, counting due returns as free.
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret   ARGV: 1 places 2 reserve 3 remote quota 4 fallback 5 now
-- Returns {remote left, on-site left, reserve left, remote quota} or {} when closed.
local quota, taken = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if not quota then return {} end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])) do
  local b = string.sub(m, 1, 1)
  taken[b] = taken[b] - 1
end
return {quota.r - taken.r, quota.o - taken.o, quota.v - taken.v, quota.r}
