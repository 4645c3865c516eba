-- Read-only: places left per bucket in one session, counting due returns as free.
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret   ARGV: 1 places 2 reserve 3 remote quota 4 fallback 5 now
-- Returns {remote left, on-site left, reserve left, remote quota} or {} when closed.
local due = {r = 0, o = 0, v = 0}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])) do
  local b = string.sub(m, 1, 1)
  due[b] = due[b] + 1
end
local quota, taken = quotas(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], due)
if not quota then return {} end
return {quota.r - taken.r, quota.o - taken.o, quota.v - taken.v, quota.r}
