"""Where a live USSD gateway session lives between hops, so any node can serve the next hop.

One Redis hash per gateway session, ``hl:ussd:{<gateway>:<session_id>}``, with fields

- ``s``: the menu ``Session`` as JSON (``Session.to_dict``),
- ``t``: the last cumulative ``text`` the gateway sent,
- ``r``: the reply we gave to it (a retried hop gets exactly this back),
- ``n``: the hop counter, used as a compare-and-set guard so two nodes never both step a hop.

Each hop costs one round trip to read and one to write: both are small Lua scripts (called by
EVALSHA, reloaded on NOSCRIPT) that also slide the TTL, because every extra round trip costs
throughput (docs/ussd.md, bench baselines §1).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from txredisapi import ScriptDoesNotExist

from menus.types import Session

_LOAD = b"""
local v = redis.call('HGETALL', KEYS[1])
if #v > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return v
"""

# ARGV: expected hop, new hop, session json, text, reply, ttl ms
_SAVE = b"""
local cur = redis.call('HGET', KEYS[1], 'n')
if (cur or '0') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'n', ARGV[2], 's', ARGV[3], 't', ARGV[4], 'r', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""


@dataclass(frozen=True, slots=True)
class UssdRecord:
    """What we remember of one gateway session after a hop."""

    session: Session
    text: str  # the cumulative text of the last hop we answered
    reply: str  # the exact body we answered it with ("CON ..." / "END ...")
    hop: int  # how many hops have been saved; the next save must expect this value


class UssdSessionStore:
    """Redis-backed gateway sessions with a sliding TTL (default 180 s, the usual network cap)."""

    def __init__(self, redis: Any, *, ttl_s: float = 180, prefix: str = "hl:ussd") -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self._redis = redis
        self._ttl_ms = str(int(ttl_s * 1000))
        self._prefix = prefix
        self._shas = {s: hashlib.sha1(s).hexdigest() for s in (_LOAD, _SAVE)}

    def key(self, gateway: str, session_id: str) -> str:
        """The hash tag keeps the key on one cluster slot however the gateway spells its id."""
        return f"{self._prefix}:{{{gateway}:{session_id}}}"

    async def load(self, gateway: str, session_id: str) -> UssdRecord | None:
        """The stored record (and its TTL slid forward), or None if unknown or expired."""
        flat = await self._script(_LOAD, self.key(gateway, session_id), [self._ttl_ms])
        if not flat:
            return None
        fields = dict(zip(flat[::2], flat[1::2], strict=True))
        try:
            return UssdRecord(
                session=Session.from_dict(json.loads(fields["s"])),
                text=fields["t"],
                reply=fields["r"],
                hop=int(fields["n"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            key = self.key(gateway, session_id)
            raise ValueError(f"corrupt USSD session record {key}") from exc

    async def save(
        self, gateway: str, session_id: str, session: Session, text: str, reply: str, *,
        expected_hop: int,
    ) -> UssdRecord | None:
        """Store the hop if nobody else stored one since ``expected_hop`` (0 = new session).

        Returns the new record, or None when another request won the race (the caller re-reads).
        """
        hop = expected_hop + 1
        body = json.dumps(session.to_dict(), ensure_ascii=False, separators=(",", ":"))
        args = [str(expected_hop), str(hop), body, text, reply, self._ttl_ms]
        won = await self._script(_SAVE, self.key(gateway, session_id), args)
        if int(won) != 1:
            return None
        return UssdRecord(session=session, text=text, reply=reply, hop=hop)

    async def delete(self, gateway: str, session_id: str) -> None:
        await self._redis.delete(self.key(gateway, session_id))

    async def _script(self, script: bytes, key: str, args: list[str]) -> Any:
        try:
            return await self._redis.evalsha(self._shas[script], keys=[key], args=args)
        except ScriptDoesNotExist:
            return await self._redis.eval(script, keys=[key], args=args)
