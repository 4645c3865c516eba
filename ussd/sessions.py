"""Where a USSD dialogue lives between hops, so any node can serve the next hop.

One Redis string per caller and gateway, ``hl:ussd:{<gateway>:<msisdn>}`` (a handset has at most
one USSD dialogue at a time), holding ``<n>\\n<json>``: ``n`` counts the saves of this key and
is the compare-and-set token, the JSON is the whole ``UssdRecord``. Keying by caller (not by the
gateway's session id) lets a patient who redials after a dropped session be offered to continue.

A hop costs one Redis round trip in the usual case: the record this node saved last is kept in a
small in-process cache, so the next hop of that session only runs the save script (EVALSHA,
reloaded on NOSCRIPT). An ended dialogue leaves the cache: its only further hop is a gateway's
retry of the last one, which reads Redis, and a redial starts from Redis anyway, so the cache
holds the dialogues in progress rather than the last 20,000 callers. The script refuses the
write when the key moved on (another node served a hop, or the record expired); the caller then
reloads from Redis and decides again. One value in one key, because each extra field or round
trip costs throughput (bench baselines §1).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from txredisapi import ScriptDoesNotExist

from menus.types import Session

# KEYS[1] record; ARGV: expected n, new value ("<n+1>\n<json>"), ttl ms
_SAVE = b"""
local cur = redis.call('GET', KEYS[1])
local n = cur and string.match(cur, '^%d+') or '0'
if n ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


def _encode(data: dict[str, Any]) -> bytes:
    """orjson, since the record is encoded on every hop (the json module was a visible share of
    one). Its non-str-key option makes each encoding markedly slower, so it is
    used only when a dict key is not a string; such keys become strings, as in the json module.
    """
    try:
        return orjson.dumps(data)
    except TypeError:
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


@dataclass(frozen=True, slots=True)
class UssdRecord:
    """What we remember of a caller's dialogue after a hop."""

    session_id: str  # the gateway's id of the dialogue this record belongs to
    session: Session  # the menu session
    text: str  # the cumulative text of the last hop answered (AT convention; synthesised else)
    pages: tuple[str, ...]  # the current screen, paged
    page: int = 0  # the page shown last
    ends: bool = False  # the screen ends the dialogue (its last page is final)
    at: float = 0.0  # clock time of the last hop (sliding timeout)
    hop: int = 0  # saves of this key so far (compare-and-set token)
    steps: int = 0  # menu steps taken in this dialogue (a redial offers to resume if > 0)
    resume: dict[str, Any] | None = field(default=None)  # an older dialogue offered to resume

    @property
    def final(self) -> bool:
        """The dialogue is over: the last page of an ending screen was shown."""
        return self.ends and self.page == len(self.pages) - 1

    @property
    def reply(self) -> str:
        """The exact body answered for this hop ("CON ..." or "END ...")."""
        return ("END " if self.final else "CON ") + self.pages[self.page]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.session_id, "s": self.session.to_dict(), "t": self.text,
                "p": list(self.pages), "i": self.page, "e": self.ends, "at": self.at,
                "x": self.resume, "k": self.steps}

    @classmethod
    def from_dict(cls, data: dict[str, Any], hop: int) -> UssdRecord:
        pages = tuple(str(p) for p in data["p"])
        page = int(data["i"])
        if not pages or not 0 <= page < len(pages):
            raise ValueError("page out of range")
        return cls(session_id=str(data["id"]), session=Session.from_dict(data["s"]),
                   text=str(data["t"]), pages=pages, page=page, ends=bool(data["e"]),
                   at=float(data["at"]), hop=hop, resume=data.get("x"),
                   steps=int(data.get("k", 0)))


class UssdSessionStore:
    """Redis-backed records with a TTL (``keep_s``, refreshed by every save) and a node cache."""

    def __init__(
        self, redis: Any, *, keep_s: float = 600, prefix: str = "hl:ussd", cache_size: int = 20000
    ) -> None:
        if keep_s <= 0:
            raise ValueError("keep_s must be positive")
        self._redis = redis
        self._keep_ms = str(int(keep_s * 1000))
        self._prefix = prefix
        self._sha = hashlib.sha1(_SAVE).hexdigest()
        self._cache: OrderedDict[str, UssdRecord] = OrderedDict()
        self._cache_size = cache_size

    def key(self, gateway: str, msisdn: str) -> str:
        """The hash tag keeps the key on one cluster slot."""
        return f"{self._prefix}:{{{gateway}:{msisdn}}}"

    def cached(self, gateway: str, msisdn: str) -> UssdRecord | None:
        """The record this node saved last for the caller (may be stale: save() checks), if
        its dialogue is still going. Always None with ``cache_size=0`` (every hop reads Redis:
        two round trips)."""
        if not self._cache_size:
            return None
        return self._cache.get(self.key(gateway, msisdn))

    async def load(self, gateway: str, msisdn: str) -> UssdRecord | None:
        """The stored record, or None if there is none (never stored, or its TTL ran out)."""
        key = self.key(gateway, msisdn)
        raw = await self._redis.get(key)
        if raw is None:
            self._cache.pop(key, None)
            return None
        try:
            head, _, body = raw.partition("\n")
            record = UssdRecord.from_dict(orjson.loads(body), int(head))
        except (KeyError, ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise ValueError(f"corrupt USSD session record {key}") from exc
        self._remember(key, record)
        return record

    async def save(self, gateway: str, msisdn: str, record: UssdRecord) -> UssdRecord | None:
        """Store ``record`` if the key still holds save number ``record.hop`` (0: none).

        Returns the stored record (its ``hop`` advanced), or None when the key moved on: the
        caller reloads and decides again.
        """
        key = self.key(gateway, msisdn)
        hop = record.hop + 1
        value = b"%d\n%s" % (hop, _encode(record.to_dict()))
        args = [str(record.hop), value, self._keep_ms]
        try:
            won = await self._redis.evalsha(self._sha, keys=[key], args=args)
        except ScriptDoesNotExist:
            won = await self._redis.eval(_SAVE, keys=[key], args=args)
        if int(won) != 1:
            self._cache.pop(key, None)
            return None
        stored = replace(record, hop=hop)
        self._remember(key, stored)
        return stored

    async def delete(self, gateway: str, msisdn: str) -> None:
        key = self.key(gateway, msisdn)
        self._cache.pop(key, None)
        await self._redis.delete(key)

    def forget(self, gateway: str, msisdn: str) -> None:
        """Drop the node-local copy (the next hop reads Redis)."""
        self._cache.pop(self.key(gateway, msisdn), None)

    def in_progress(self, since: float) -> int:
        """Dialogues this node served last whose latest hop is at or after ``since`` (the
        metrics' live dialogues; 0 without the cache)."""
        return sum(1 for record in list(self._cache.values()) if record.at >= since)

    def _remember(self, key: str, record: UssdRecord) -> None:
        if not self._cache_size:
            return
        if record.final:  # nothing follows an ended dialogue on this node: see the module doc
            self._cache.pop(key, None)
            return
        self._cache[key] = record
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
