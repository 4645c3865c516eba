-- Bind a resident ID to a phone number, at most ARGV[2] IDs per phone.
-- KEYS: 1 hl:ph:<msisdn>:ids   ARGV: 1 id number  2 IDs per phone
-- Returns 'ok' (bound now or already) or 'limit'.
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'ok' end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 'limit' end
redis.call('SADD', KEYS[1], ARGV[1])
return 'ok'
