-- Read-only: remote places left in many sessions with one call (a menu's day and session lists).
-- KEYS: per session i: hl:{tag}:q, hl:{tag}:ret   ARGV: 1 now, then per session i:
-- places, reserve, remote quota, fallback (as avail.lua). Returns one number per session
-- (0 when closed or full). Single-Redis only: the keys span sessions, like the admin scripts.
local now = ARGV[1]
local out = {}
for i = 1, #KEYS / 2 do
  local due = {r = 0, o = 0, v = 0}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2 * i], '-inf', now)) do
    local b = string.sub(m, 1, 1)
    due[b] = due[b] + 1
  end
  local a = 1 + (i - 1) * 4
  local quota, taken = quotas(KEYS[2 * i - 1], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], due)
  out[i] = quota and math.max(quota.r - taken.r, 0) or 0
end
return out
