-- A hospital closes (ARGV[1] == '-1') or shrinks a session to ARGV[1] places. Returns the number
-- of live bookings that no longer fit (the caller cancels that many, latest first).
-- KEYS: 1 hl:{tag}:q  2 hl:{tag}:ret   ARGV: 1 places or -1  2 now
settle(KEYS[1], KEYS[2], ARGV[2])
local h = redis.call('HMGET', KEYS[1], 'r', 'o', 'v', 'rq')
local taken = tonumber(h[1] or '0') + tonumber(h[2] or '0') + tonumber(h[3] or '0')
if ARGV[1] == '-1' then
  redis.call('HSET', KEYS[1], 'closed', ARGV[2], 'places', 0)
  return taken
end
local p = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'places', p)
return math.max(taken - p, 0)
