"""Lua scripts of the durable outbox (``sms.redis_outbox``); one script per state change (what
one reactor turn learnt from the link, SUBMIT answers and receipts, is one: ``SETTLE``).

Keys (all under one hash tag, ``hl:{sms}:``, so every script touches one slot):
``m:<key>`` hash per message, ``q`` zset of waiting keys (score = arrival order), ``f`` zset of
keys in flight, ``n`` arrival counter, ``dead`` list of given-up keys (newest first, capped),
``id:<message_id>`` -> key for delivery receipts.  Message hashes are built from the key prefix
inside the scripts (the hash tag keeps them in the scripts' slot).

Claims: a message in flight belongs to the sender that took it (``owner``) until its lease
(``until``) passes; the owner renews the leases of what it still holds (``RENEW``).  Only the
owner may put it back (``RETRY``) or bury it (``DEAD``); ``RECOVER`` returns to waiting what a
starting sender owned, and, for anyone, what is held past its lease.  So two live senders
never both submit one message: only a lease that lapsed (its owner died, or was stuck for
longer than the lease) lets another sender take it.
"""

from __future__ import annotations

_LIB = r"""
local FINAL = {DELIVRD=true, EXPIRED=true, DELETED=true, UNDELIV=true, REJECTD=true}
local RANK = {queued=0, sending=1, submitted=2, delivered=3, undelivered=3, dead=3, expired=3}

local function split(s)
  local out = {}
  for x in string.gmatch(s or '', '[^,]+') do out[#out + 1] = x end
  return out
end

-- All parts final: delivered (every one DELIVRD) or undelivered.  Returns the state.
-- ``state`` and ``ids`` (csv) are the hash's; ``stats`` holds the known 'p:<id>' values (the
-- caller read them with the rest, or just wrote one): only the missing ones are read here.
local function aggregate(m, prefix, final_ttl, state, ids, stats)
  if state ~= 'submitted' then return state end
  ids = split(ids)
  if #ids == 0 then return state end
  local missing = {}
  for _, id in ipairs(ids) do
    if stats[id] == nil then missing[#missing + 1] = 'p:' .. id end
  end
  if #missing > 0 then
    local got = redis.call('HMGET', m, unpack(missing))
    for i, field in ipairs(missing) do stats[string.sub(field, 3)] = got[i] or false end
  end
  local delivered, final = 0, 0
  for _, id in ipairs(ids) do
    local stat = stats[id]
    if stat and FINAL[stat] then
      final = final + 1
      if stat == 'DELIVRD' then delivered = delivered + 1 end
    end
  end
  if final < #ids then return state end
  state = (delivered == #ids) and 'delivered' or 'undelivered'
  redis.call('HSET', m, 'state', state)
  for _, id in ipairs(ids) do redis.call('EXPIRE', prefix .. 'id:' .. id, final_ttl) end
  return state
end

-- Whose the in-flight message is: its owner, and whether its lease has passed at ``now``
-- (a message taken before leases were recorded falls back to its take time + ``lease``).
local function lapsed(m, now, lease)
  local f = redis.call('HMGET', m, 'owner', 'until', 'taken')
  local untl = tonumber(f[2]) or ((tonumber(f[3]) or 0) + lease)
  return f[1] or '', untl < now
end

local function bury(m, dead, key, state, reason, now, retention)
  redis.call('HSET', m, 'state', state, 'reason', reason, 'updated', now)
  redis.call('EXPIRE', m, retention)
  redis.call('LPUSH', dead, key)
  redis.call('LTRIM', dead, 0, 9999)
end
"""

# KEYS: q, n.  ARGV: prefix, now, then 5 per message: key, to, text, kind, valid_until.
PUT = _LIB + r"""
local prefix, now = ARGV[1], ARGV[2]
local out = {}
for j = 3, #ARGV, 5 do
  local key = ARGV[j]
  local m = prefix .. 'm:' .. key
  if redis.call('EXISTS', m) == 1 then
    out[#out + 1] = 0
  else
    local n = redis.call('INCR', KEYS[2])
    redis.call('HSET', m, 'to', ARGV[j + 1], 'text', ARGV[j + 2], 'kind', ARGV[j + 3],
      'valid_until', ARGV[j + 4], 'n', n, 'state', 'queued', 'attempts', 0,
      'created', now, 'updated', now)
    redis.call('ZADD', KEYS[1], n, key)
    out[#out + 1] = 1
  end
end
return out
"""

# KEYS: q, f, dead.  ARGV: prefix, limit, now, retention, owner (the sender taking them),
# lease (s).  Returns a flat list: key, to, text, kind, valid_until per message taken.
TAKE = _LIB + r"""
local prefix, limit, now, retention = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local owner, untl = ARGV[5] or '', now + tonumber(ARGV[6] or 300)
local out, taken = {}, 0
while taken < limit do
  local head = redis.call('ZPOPMIN', KEYS[1], limit - taken)
  if #head == 0 then break end
  for i = 1, #head, 2 do
    local key, n = head[i], head[i + 1]
    local m = prefix .. 'm:' .. key
    local f = redis.call('HMGET', m, 'to', 'text', 'kind', 'valid_until', 'attempts')
    if f[1] then
      local vu = tonumber(f[4])
      if vu and vu < now then
        bury(m, KEYS[3], key, 'expired', 'expired: validity passed before sending', now, retention)
      else
        redis.call('ZADD', KEYS[2], n, key)
        redis.call('HSET', m, 'state', 'sending', 'updated', now, 'owner', owner, 'taken', now,
          'until', untl, 'attempts', (tonumber(f[5]) or 0) + 1)
        out[#out + 1] = key; out[#out + 1] = f[1]; out[#out + 1] = f[2]
        out[#out + 1] = f[3]; out[#out + 1] = f[4]
        taken = taken + 1
      end
    end
  end
end
return out
"""

# KEYS: q, f.  ARGV: prefix, key, now, owner.  Only the message's owner puts it back: after
# its lease lapsed another sender may have it in flight (0: left as it is).
RETRY = _LIB + r"""
local m = ARGV[1] .. 'm:' .. ARGV[2]
local f = redis.call('HMGET', m, 'n', 'owner', 'state')
local n = f[1]
if not n or (f[2] or '') ~= (ARGV[4] or '') or f[3] ~= 'sending' then return 0 end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], n, ARGV[2])
redis.call('HSET', m, 'state', 'queued', 'updated', ARGV[3])
return 1
"""

# What the link learnt in one reactor turn, in the order it learnt it: SUBMIT answers (done)
# and delivery receipts, in one call.
# KEYS: f, q, then id:<message_id> per receipt.  ARGV: prefix, now, retention, id_ttl,
# final_ttl, owner, then per item its kind and fields: 'd', key, ids (csv) for a message the
# SMSC accepted; 'r', key ('' = look it up by id), message_id, stat for a receipt.  Returns per
# item the message's state after it ('' for a receipt whose id is unknown yet).
#
# done: the SMSC has the message whoever owns it now: it is submitted, and leaves the waiting
# set too (its lease had lapsed and it was put back); another owner's claim on it stays until
# that owner settles it.
SETTLE = _LIB + r"""
local prefix, now, retention, id_ttl, final_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local owner = ARGV[6]

local function done(key, ids)
  local m = prefix .. 'm:' .. key
  local list = split(ids)
  local fields = {'state', 'owner'}
  for _, id in ipairs(list) do fields[#fields + 1] = 'p:' .. id end
  local h = redis.call('HMGET', m, unpack(fields))
  local state = h[1]
  -- in flight under its owner's claim it is in 'f' only; otherwise it may be back in 'q'
  if (h[2] or '') == owner or state ~= 'sending' then redis.call('ZREM', KEYS[1], key) end
  if state ~= 'sending' then redis.call('ZREM', KEYS[2], key) end
  if state and RANK[state] < RANK['submitted'] then
    redis.call('HSET', m, 'state', 'submitted', 'ids', ids, 'updated', now)
    for _, id in ipairs(list) do
      redis.call('SET', prefix .. 'id:' .. id, key, 'EX', id_ttl)
    end
    redis.call('EXPIRE', m, retention)
    local stats = {}
    for i, id in ipairs(list) do stats[id] = h[i + 2] or false end
    state = aggregate(m, prefix, final_ttl, 'submitted', ids, stats)
  end
  return state or ''
end

local function receipt(index, key, id, stat)
  if key == '' then key = redis.call('GET', KEYS[index]) end
  local m = key and (prefix .. 'm:' .. key)
  local h = m and redis.call('HMGET', m, 'state', 'ids', 'p:' .. id)
  if not (h and h[1]) then return '' end  -- every message hash has a state: none, no message
  local old = h[3]
  local stats = {}
  if old and FINAL[old] then
    stats[id] = old
  else
    redis.call('HSET', m, 'p:' .. id, stat)
    stats[id] = stat
  end
  return aggregate(m, prefix, final_ttl, h[1], h[2], stats)
end

local out, j, index = {}, 7, 2
while j <= #ARGV do
  if ARGV[j] == 'd' then
    out[#out + 1] = done(ARGV[j + 1], ARGV[j + 2])
    j = j + 3
  else
    index = index + 1
    out[#out + 1] = receipt(index, ARGV[j + 1], ARGV[j + 2], ARGV[j + 3])
    j = j + 4
  end
end
return out
"""

# KEYS: q, f, dead.  ARGV: prefix, key, reason, now, retention, owner.  Only the owner of a
# message in flight buries it (0: another sender has it now).
DEAD = _LIB + r"""
local m = ARGV[1] .. 'm:' .. ARGV[2]
if redis.call('EXISTS', m) == 0 then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
  return 0
end
local h = redis.call('HMGET', m, 'state', 'owner')
if h[1] == 'sending' and (h[2] or '') ~= (ARGV[6] or '') then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
bury(m, KEYS[3], ARGV[2], 'dead', ARGV[3], ARGV[4], ARGV[5])
return 1
"""

# KEYS: f.  ARGV: prefix, owner, now, lease, then the keys the owner still holds.  Each one
# still in flight and still the owner's gets a new lease; returns the keys it has lost (its
# lease had lapsed and another sender took it back).
RENEW = _LIB + r"""
local prefix, owner, now, lease = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local lost = {}
for j = 5, #ARGV do
  local m = prefix .. 'm:' .. ARGV[j]
  local h = redis.call('HMGET', m, 'owner', 'state')
  if redis.call('ZSCORE', KEYS[1], ARGV[j]) and (h[1] or '') == owner and h[2] == 'sending' then
    redis.call('HSET', m, 'until', now + lease)
  else
    lost[#lost + 1] = ARGV[j]
  end
end
return lost
"""

# KEYS: q, f.  ARGV: prefix, now, owner, lease, mine (1: also this owner's own messages, as
# it starts and has nothing out).  What is in flight goes back to waiting, at its place, when
# its lease lapsed (its sender died, or is stuck) or, with ``mine``, when it is this owner's.
# A live sender's messages stay: it renews their leases.
RECOVER = _LIB + r"""
local prefix, now, owner = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local lease, mine = tonumber(ARGV[4]), ARGV[5] == '1'
local inflight = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local back = 0
for i = 1, #inflight, 2 do
  local m = prefix .. 'm:' .. inflight[i]
  local who, gone = lapsed(m, now, lease)
  if gone or (mine and who == owner) then
    redis.call('ZADD', KEYS[1], inflight[i + 1], inflight[i])
    redis.call('ZREM', KEYS[2], inflight[i])
    redis.call('HSET', m, 'state', 'queued', 'updated', now)
    back = back + 1
  end
end
return back
"""
