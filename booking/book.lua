-- Book one remote place atomically (docs/booking.md, "Redis keys").
-- KEYS: 1 hl:req:<request_key> (unused when ARGV[1] == '0')
--       2 hl:{<dept>:<day>}:ids      hash id_number -> tcode (one live booking per ID/dept/day)
--       3 hl:{<dept>:<day>:<sess>}:n  remote bookings counted against the quota
--       4 hl:{<dept>:<day>:<sess>}:codes  set of the session's tcodes
--       5.. hl:bk:<candidate tcode>   booking hashes, one per candidate code
-- ARGV: 1 '1' if a request key is given, 2 its TTL (s), 3 id_number, 4 remote quota,
--       5 expire-at (epoch s) for the booking and session keys, 6 n = number of field pairs,
--       7 .. 6+2n booking fields (name, value, ...), then the candidate tcodes in KEYS order.
-- Returns {status, tcode}: ok | again (request key seen) | duplicate | full | retry (codes taken).
if ARGV[1] == '1' then
  local prior = redis.call('GET', KEYS[1])
  if prior then return {'again', prior} end
end
local held = redis.call('HGET', KEYS[2], ARGV[3])
if held then return {'duplicate', held} end
local n = tonumber(redis.call('GET', KEYS[3]) or '0')
if n >= tonumber(ARGV[4]) then return {'full', ''} end
local nf = tonumber(ARGV[6])
local fields = {}
for j = 7, 6 + 2 * nf do fields[#fields + 1] = ARGV[j] end
for i = 5, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local code = ARGV[6 + 2 * nf + i - 4]
    redis.call('HSET', KEYS[i], 'tcode', code, unpack(fields))
    redis.call('EXPIREAT', KEYS[i], ARGV[5])
    redis.call('HSET', KEYS[2], ARGV[3], code)
    redis.call('EXPIREAT', KEYS[2], ARGV[5])
    redis.call('INCR', KEYS[3])
    redis.call('EXPIREAT', KEYS[3], ARGV[5])
    redis.call('SADD', KEYS[4], code)
    redis.call('EXPIREAT', KEYS[4], ARGV[5])
    if ARGV[1] == '1' then redis.call('SET', KEYS[1], code, 'EX', ARGV[2]) end
    return {'ok', code}
  end
end
return {'retry', ''}
