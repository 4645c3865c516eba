-- Take one place atomically: hold it (pay_to_confirm) or book it at once (pay_at_hospital).
-- KEYS: 1 hl:req:<key>  2 hl:{D:day}:ids  3 hl:{tag}:q  4 hl:{tag}:codes  5 hl:{tag}:ret
--       6 hl:holds  7 hl:events  8 hl:pid:<h>:bk  9 hl:pid:<h>:days  10 hl:ph:<msisdn>:ids
--       11 hl:rl:p:<msisdn>:<min>  12 hl:rl:i:<h>:<min>  13 hl:bl:<h>  14 hl:ph:<msisdn>:bk
--       15 hl:day:<day>  16 hl:bk:<candidate tcode>
-- ARGV: 1 '1' if a request key is given  2 its TTL  3 id number  4 bucket (r|o|v)  5 places
--       6 reserve  7 remote quota  8 fallback '1'|'0'  9 now  10 expire-at  11 hold deadline
--       (0 = confirm now)  12 per-day cap  13 7-day cap  14 90-day cap  15 IDs per phone
--       16 ops per minute  17 session tag  18 visit day ordinal  19 visit day  20 n field pairs
--       21.. fields (name, value)  then the candidate tcode.
-- Returns {status, detail}: ok | again (request key seen) | rate_limited | blacklisted (until)
--       | duplicate | limit_ids | limit (which cap) | closed | full | retry (code taken).
if ARGV[1] == '1' then
  local prior = redis.call('GET', KEYS[1])
  if prior then return {'again', prior} end
end
local now = tonumber(ARGV[9])
if over(KEYS[11], ARGV[16]) or over(KEYS[12], ARGV[16]) then return {'rate_limited', ''} end
local barred = redis.call('HGET', KEYS[13], 'until')
if barred and tonumber(barred) > now then return {'blacklisted', barred} end
local held = redis.call('HGET', KEYS[2], ARGV[3])
if held then return {'duplicate', held} end
local id = ARGV[3]
if redis.call('SISMEMBER', KEYS[10], id) == 0
    and redis.call('SCARD', KEYS[10]) >= tonumber(ARGV[15]) then
  return {'limit_ids', ''}
end
if tonumber(redis.call('HGET', KEYS[9], ARGV[19]) or '0') >= tonumber(ARGV[12]) then
  return {'limit', 'day'}
end
redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now - 90 * 86400)
if redis.call('ZCOUNT', KEYS[8], '(' .. (now - 7 * 86400), '+inf') >= tonumber(ARGV[13]) then
  return {'limit', '7d'}
end
if redis.call('ZCARD', KEYS[8]) >= tonumber(ARGV[14]) then return {'limit', '90d'} end
settle(KEYS[3], KEYS[5], now)
local quota, taken = quotas(KEYS[3], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
if not quota then return {'closed', ''} end
local bucket = ARGV[4]
if taken[bucket] >= quota[bucket] then return {'full', ''} end
local nf = tonumber(ARGV[20])
local code = ARGV[21 + 2 * nf]
if redis.call('EXISTS', KEYS[16]) == 1 then return {'retry', ''} end
local fields = {}
for j = 21, 20 + 2 * nf do fields[#fields + 1] = ARGV[j] end
local exp = ARGV[10]
redis.call('HSET', KEYS[16], 'tcode', code, 'seq', redis.call('HINCRBY', KEYS[3], 'seq', 1),
  unpack(fields))
redis.call('EXPIREAT', KEYS[16], exp)
redis.call('HSET', KEYS[2], id, code)
redis.call('EXPIREAT', KEYS[2], exp)
redis.call('HINCRBY', KEYS[3], bucket, 1)
redis.call('EXPIREAT', KEYS[3], exp)
redis.call('SADD', KEYS[4], code)
redis.call('EXPIREAT', KEYS[4], exp)
redis.call('EXPIREAT', KEYS[5], exp)
redis.call('ZADD', KEYS[8], now, code)
redis.call('EXPIRE', KEYS[8], 91 * 86400)
redis.call('HINCRBY', KEYS[9], ARGV[19], 1)
redis.call('EXPIRE', KEYS[9], 91 * 86400)
redis.call('SADD', KEYS[10], id)
redis.call('ZADD', KEYS[14], ARGV[18], code)
redis.call('EXPIREAT', KEYS[14], exp)
redis.call('SADD', KEYS[15], ARGV[17])
redis.call('EXPIREAT', KEYS[15], exp)
if ARGV[11] == '0' then
  event(KEYS[7], 'booked', KEYS[16], ARGV[9], '')
else
  redis.call('ZADD', KEYS[6], ARGV[11], code)
end
if ARGV[1] == '1' then redis.call('SET', KEYS[1], code, 'EX', ARGV[2]) end
return {'ok', code}
