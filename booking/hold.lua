-- Take one place atomically: hold it (pay_to_confirm) or book it at once (pay_at_hospital).
-- KEYS: 1 hl:req:<key>  2 hl:{h:H}:ids:D:day  3 ...:q:D:day:S  4 ...:codes:...  5 ...:ret:...
--       6 hl:bk:<candidate tcode>
-- ARGV: 1 JSON {req (1|0), ttl, id, h (ID digest), m (msisdn), min (clock minute), b (bucket
--       r|o|v), p (places), v (reserve), rq (remote quota), fb (fallback 1|0), now, exp
--       (expire-at), hu (hold deadline, 0 = confirm now), cap {d, w, q, ids, ops}, tag, ord
--       (visit day ordinal), day, f (booking fields, flat), hp (the hospital's key prefix
--       hl:{h:H}:), pp (person keys' prefix), bp (blacklist's prefix)}  2 the candidate tcode.
-- The per-person keys (<pp>pid:I:*, hl:ph:<msisdn>:*, hl:rl:*, <bp>bl:I), <hp>day:<day>,
-- <hp>holds and hl:events are built here from the JSON, with the names of booking/keys.py: one JSON
-- argument instead of ~50 keeps the client's encoding cost per attempt low (docs/booking.md).
-- Returns {status, detail}: ok | again (request key seen) | rate_limited | blacklisted (until)
--       | duplicate | limit_ids | limit (which cap) | closed | full | retry (code taken).
local a = cjson.decode(ARGV[1])
if a.req == 1 then
  local prior = redis.call('GET', KEYS[1])
  if prior then return {'again', prior} end
end
local now, id, cap = a.now, a.id, a.cap
local pz, pdays = a.pp .. 'pid:' .. a.h .. ':bk', a.pp .. 'pid:' .. a.h .. ':days'
local phids = 'hl:ph:' .. a.m .. ':ids'
if over('hl:rl:p:' .. a.m .. ':' .. a.min, cap.ops)
    or over('hl:rl:i:' .. a.h .. ':' .. a.min, cap.ops) then
  return {'rate_limited', ''}
end
local barred = redis.call('HGET', a.bp .. 'bl:' .. a.h, 'until')
if barred and tonumber(barred) > now then return {'blacklisted', barred} end
local held = redis.call('HGET', KEYS[2], id)
if held then return {'duplicate', held} end
if redis.call('SISMEMBER', phids, id) == 0 and redis.call('SCARD', phids) >= cap.ids then
  return {'limit_ids', ''}
end
if tonumber(redis.call('HGET', pdays, a.day) or '0') >= cap.d then return {'limit', 'day'} end
redis.call('ZREMRANGEBYSCORE', pz, '-inf', now - 90 * 86400)
if redis.call('ZCOUNT', pz, '(' .. (now - 7 * 86400), '+inf') >= cap.w then
  return {'limit', '7d'}
end
if redis.call('ZCARD', pz) >= cap.q then return {'limit', '90d'} end
settle(KEYS[3], KEYS[5], now)
local quota, taken = quotas(KEYS[3], a.p, a.v, a.rq, tostring(a.fb))
if not quota then return {'closed', ''} end
local bucket = a.b
if taken[bucket] >= quota[bucket] then return {'full', ''} end
local code = ARGV[2]
if redis.call('EXISTS', KEYS[6]) == 1 then return {'retry', ''} end
local exp = a.exp
redis.call('HSET', KEYS[6], 'tcode', code, 'seq', redis.call('HINCRBY', KEYS[3], 'seq', 1),
  unpack(a.f))
redis.call('EXPIREAT', KEYS[6], exp)
redis.call('HSET', KEYS[2], id, code)
redis.call('EXPIREAT', KEYS[2], exp)
redis.call('HINCRBY', KEYS[3], bucket, 1)
redis.call('EXPIREAT', KEYS[3], exp)
redis.call('SADD', KEYS[4], code)
redis.call('EXPIREAT', KEYS[4], exp)
redis.call('EXPIREAT', KEYS[5], exp)
redis.call('ZADD', pz, now, code)
redis.call('EXPIRE', pz, 91 * 86400)
redis.call('HINCRBY', pdays, a.day, 1)
redis.call('EXPIRE', pdays, 91 * 86400)
redis.call('SADD', phids, id)
local phbk, dayix = 'hl:ph:' .. a.m .. ':bk', a.hp .. 'day:' .. a.day
redis.call('ZADD', phbk, a.ord, code)
redis.call('EXPIREAT', phbk, exp)
redis.call('SADD', dayix, a.tag)
redis.call('EXPIREAT', dayix, exp)
if a.hu == 0 then
  event('hl:events', 'booked', KEYS[6], now, '')
else
  redis.call('ZADD', a.hp .. 'holds', a.hu, code)
end
if a.req == 1 then redis.call('SET', KEYS[1], code, 'EX', a.ttl) end
return {'ok', code}
