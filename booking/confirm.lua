-- A payment for a hold (idempotent on txn_id). Confirm and expiry are serialised here: a payment
-- after the deadline releases the hold and asks for a refund; it never makes a booking.
-- KEYS: 1 hl:bk:<tcode> 2 ids 3 q 4 ret 5 hl:holds 6 pid bk 7 pid days 8 phone bk 9 hl:events
--       10 hl:pay:<txn_id>
-- ARGV: 1 tcode  2 now  3 txn_id  4 TTL of the payment record  5 amount (fen)  6 the fee (fen)
-- Returns {outcome, 'new'|'again'}: booked | refund | unknown, or {'amount_mismatch', fee}
-- (nothing recorded or changed: the same request again gets the same refusal).
local prior = redis.call('GET', KEYS[10])
if prior then return {prior, 'again'} end
local st = redis.call('HMGET', KEYS[1], 'status', 'hold_until')
local out
if st[1] and ARGV[6] and ARGV[6] ~= '' and tonumber(ARGV[5]) ~= tonumber(ARGV[6]) then
  return {'amount_mismatch', ARGV[6]}
end
if not st[1] then
  out = 'unknown'
elseif st[1] == 'held' and tonumber(st[2]) > tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'status', 'confirmed', 'paid_txn', ARGV[3], 'paid_at', ARGV[2],
    'amount', ARGV[5])
  redis.call('ZREM', KEYS[5], ARGV[1])
  event(KEYS[9], 'booked', KEYS[1], ARGV[2], '')
  out = 'booked'
else
  local reason = st[1]
  if st[1] == 'held' then
    release({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]},
      ARGV[1], ARGV[2], ARGV[2])
    redis.call('HSET', KEYS[1], 'status', 'expired', 'expired_at', ARGV[2])
    reason = 'expired'
  elseif st[1] ~= 'expired' and st[1] ~= 'cancelled' then
    reason = 'already_paid'
  end
  event(KEYS[9], 'refund', KEYS[1], ARGV[2], reason .. ':' .. ARGV[3] .. ':' .. ARGV[5])
  out = 'refund'
end
redis.call('SET', KEYS[10], out, 'EX', ARGV[4])
return {out, 'new'}
