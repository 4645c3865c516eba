-- Helpers shared by the booking scripts; booking.scripts prepends this file to each of them.
-- Buckets: r = remote, o = on-site, v = reserve. The counts hash q holds taken places per bucket:
-- held + confirmed + checked in + no-show + cancelled places whose return time has not come yet.

-- Append one event to hl:events (contract 1, docs/booking.md) from the booking hash.
local function event(stream, kind, bk, now, reason)
  local f = redis.call('HMGET', bk, 'tcode', 'msisdn', 'dept', 'day', 'session', 'lang',
    'hospital')
  redis.call('XADD', stream, 'MAXLEN', '~', '100000', '*', 'type', kind, 'tcode', f[1],
    'hospital', f[7] or '', 'msisdn', f[2], 'dept', f[3], 'day', f[4], 'session', f[5],
    'lang', f[6] or 'zh',
    'reason', reason or '', 'ts', string.format('%d', math.floor(tonumber(now))))
end

-- Cancelled places whose return time has come leave the taken counts (no timer to lose).
local function settle(q, ret, now)
  local due = redis.call('ZRANGEBYSCORE', ret, '-inf', now)
  for _, m in ipairs(due) do redis.call('HINCRBY', q, string.sub(m, 1, 1), -1) end
  if #due > 0 then redis.call('ZREMRANGEBYSCORE', ret, '-inf', now) end
end

-- Quotas per bucket and taken counts, or nil when the session is closed by the hospital.
-- places/reserve/rq: the catalog's numbers; the hash may override places, rq and reserve (admin,
-- shrink).
-- fallback == '1': the cut-off before the session passed, unclaimed remote places go on-site.
-- due (optional): places per bucket whose return is due but not yet settled (read-only callers).
local function quotas(q, places, reserve, rq, fallback, due)
  local h = redis.call('HMGET', q, 'places', 'rq', 'r', 'o', 'v', 'closed', 'reserve')
  if h[6] then return nil end
  local p = tonumber(h[1] or places)
  local v = math.min(tonumber(h[7] or reserve), p)
  local taken = {r = tonumber(h[3] or '0'), o = tonumber(h[4] or '0'), v = tonumber(h[5] or '0')}
  if due then
    for b, n in pairs(due) do taken[b] = taken[b] - n end
  end
  -- the share's quota, but never below the remote places taken (a cut breaks no hold or
  -- booking; the quota shrinks as they go) nor above what the desk has not used
  local r = math.max(taken.r, math.min(tonumber(h[2] or rq), p - v - taken.o))
  if fallback == '1' then r = taken.r end
  return {r = r, o = p - v - r, v = v}, taken
end

-- Take a live booking out of every index; its place returns now or at release_at (> now).
-- K = {bk, ids, q, ret, holds, pz, pdays, phbk}
local function release(K, tcode, now, release_at)
  local b = redis.call('HMGET', K[1], 'bucket', 'id', 'day')
  if redis.call('HGET', K[2], b[2]) == tcode then redis.call('HDEL', K[2], b[2]) end
  if tonumber(release_at) > tonumber(now) then
    redis.call('ZADD', K[4], release_at, b[1] .. ':' .. tcode)
    redis.call('HSET', K[1], 'release_at', release_at)
  else
    redis.call('HINCRBY', K[3], b[1], -1)
  end
  redis.call('ZREM', K[5], tcode)
  if redis.call('ZREM', K[6], tcode) == 1 then
    if redis.call('HINCRBY', K[7], b[3], -1) <= 0 then redis.call('HDEL', K[7], b[3]) end
  end
  redis.call('ZREM', K[8], tcode)
end

-- One operation against a fixed one-minute window; true when over the limit.
local function over(key, limit)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, 120) end
  return n > tonumber(limit)
end
