"""The durable outbox: every message is in Redis before the SMSC sees it (``sms.outbox.Outbox``).

At least once: a message is ``sending`` while its submit_sm are out; a crash leaves it in the
in-flight set and ``recover()`` (called when the sender starts) puts it back to waiting, so it
is sent again (a duplicate only where the SMSC had accepted a part whose resp was lost).  The
idempotency key is the message hash's name: a key seen within ``retention`` is not queued
again.  ``put`` and ``done`` calls made in the same reactor turn share one EVALSHA, so a busy
sender does not pay a Redis round trip per message (bench/RESULTS.md, smpp_mt).

One sender per outbox prefix: the in-flight set is not leased per process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import txredisapi
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime

from pii import mask_tail
from sms import redis_lua
from sms.api import OutgoingSms

PREFIX = "hl:{sms}:"
DAY = 24 * 3600


class Script:
    """EVALSHA with a reload when Redis forgot the script (restart, SCRIPT FLUSH)."""

    def __init__(self, redis: Any, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    @defer.inlineCallbacks
    def __call__(self, keys: Sequence[str], args: Sequence[object]) -> Any:
        argv = [str(a) for a in args]
        try:
            result = yield self.redis.evalsha(self.sha, list(keys), argv)
        except txredisapi.ScriptDoesNotExist:
            self.sha = yield self.redis.script_load(self.source)
            result = yield self.redis.evalsha(self.sha, list(keys), argv)
        return result


class _Batch:
    """Collects calls made in one reactor turn (or ``limit`` of them) into one script call."""

    def __init__(self, clock: IReactorTime, run: Callable[[list[Any]], Any],
                 limit: int = 500) -> None:
        self.clock = clock
        self.run = run
        self.limit = limit
        self.items: list[Any] = []
        self.waiters: list[defer.Deferred[Any]] = []
        self.timer: IDelayedCall | None = None

    def add(self, item: Any) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self.items.append(item)
        self.waiters.append(d)
        if len(self.items) >= self.limit:
            self.fire()
        elif self.timer is None:
            self.timer = self.clock.callLater(0, self.fire)
        return d

    def fire(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        items, waiters = self.items, self.waiters
        self.items, self.waiters = [], []
        if not items:
            return

        def answered(results: list[Any]) -> None:
            for waiter, result in zip(waiters, results, strict=True):
                waiter.callback(result)

        def failed(failure: Any) -> None:
            for waiter in waiters:
                waiter.errback(failure)

        defer.maybeDeferred(self.run, items).addCallbacks(answered, failed)


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class RedisOutbox:
    """``sms.outbox.Outbox`` in Redis; see ``sms.redis_lua`` for the keys and scripts."""

    def __init__(self, redis: Any, clock: IReactorTime, *, prefix: str = PREFIX,
                 retention: float = 7 * DAY, id_ttl: float = 2 * DAY,
                 final_id_ttl: float = 3600, scheduler: IReactorTime | None = None,
                 owner: str = "", lease_s: float = 300) -> None:
        """``clock`` gives now (validity, timestamps); ``scheduler`` (default: clock) runs the
        same-turn batches, so a test may fake time on a Clock while Redis I/O stays real.

        ``owner`` names the sender taking messages (stable across its restarts, distinct per
        node sharing the Redis); ``lease_s``: how long another node's message may stay in
        flight before ``recover`` takes it back (that node died, or is stuck)."""
        self.redis = redis
        self.clock = clock
        self.prefix = prefix
        self.retention = int(retention)
        self.id_ttl = int(id_ttl)
        self.final_id_ttl = int(final_id_ttl)
        self.owner, self.lease_s = owner, lease_s
        self.q, self.f = prefix + "q", prefix + "f"
        self.dead_key, self.counter = prefix + "dead", prefix + "n"
        self._put, self._take = Script(redis, redis_lua.PUT), Script(redis, redis_lua.TAKE)
        self._retry, self._done = Script(redis, redis_lua.RETRY), Script(redis, redis_lua.DONE)
        self._dead = Script(redis, redis_lua.DEAD)
        self._receipt = Script(redis, redis_lua.RECEIPT)
        self._recover = Script(redis, redis_lua.RECOVER)
        turns = scheduler if scheduler is not None else clock
        self._puts = _Batch(turns, self._put_many)
        self._dones = _Batch(turns, self._done_many)
        self._receipts = _Batch(turns, self._receipt_many)

    def _now(self) -> int:
        return int(self.clock.seconds())

    # -- Outbox --------------------------------------------------------------------------
    def put(self, message: OutgoingSms) -> defer.Deferred[bool]:
        return self._puts.add(message)

    def _put_many(self, messages: list[OutgoingSms]) -> Any:
        args: list[object] = [self.prefix, self._now()]
        for m in messages:
            valid = "" if m.valid_until is None else repr(float(m.valid_until))
            args += [m.key, m.to, m.text, m.kind, valid]
        d = self._put([self.q, self.counter], args)
        return d.addCallback(lambda flags: [int(x) == 1 for x in flags])

    @defer.inlineCallbacks
    def take(self, limit: int) -> Any:
        flat = yield self._take([self.q, self.f, self.dead_key],
                                [self.prefix, max(int(limit), 1), self._now(), self.retention,
                                 self.owner])
        out = []
        for i in range(0, len(flat), 5):
            key, to, text, kind, valid = (_text(v) for v in flat[i:i + 5])
            out.append(OutgoingSms(to, text, key, kind, float(valid) if valid else None))
        return out

    def retry(self, message: OutgoingSms) -> defer.Deferred[Any]:
        return self._retry([self.q, self.f], [self.prefix, message.key, self._now()])

    def done(self, message: OutgoingSms, message_ids: Sequence[str] = ()) -> defer.Deferred[str]:
        return self._dones.add((message.key, ",".join(message_ids)))

    def _done_many(self, items: list[tuple[str, str]]) -> Any:
        args: list[object] = [self.prefix, self._now(), self.retention, self.id_ttl,
                              self.final_id_ttl]
        for key, ids in items:
            args += [key, ids]
        return self._done([self.f], args).addCallback(lambda states: [_text(s) for s in states])

    def dead(self, message: OutgoingSms, reason: str) -> defer.Deferred[Any]:
        return self._dead([self.q, self.f, self.dead_key],
                          [self.prefix, message.key, reason, self._now(), self.retention])

    def receipt(self, key: str, message_id: str, stat: str) -> defer.Deferred[str]:
        return self._receipts.add((key, message_id, stat))

    def _receipt_many(self, items: list[tuple[str, str, str]]) -> Any:
        keys = [self.prefix + "id:" + message_id for _, message_id, _ in items]
        args: list[object] = [self.prefix, self.final_id_ttl]
        for item in items:
            args += item
        return self._receipt(keys, args).addCallback(lambda states: [_text(s) for s in states])

    # -- operations ----------------------------------------------------------------------
    def recover(self) -> defer.Deferred[int]:
        """Put back to waiting what this sender had in flight (it is starting: nothing of its
        own is out) and what any sender took more than ``lease_s`` ago; how many."""
        now = self._now()
        d = self._recover([self.q, self.f], [self.prefix, now, self.owner, now - self.lease_s])
        return d.addCallback(int)

    @defer.inlineCallbacks
    def state(self, key: str) -> Any:
        """The message's hash (to, text, kind, state, attempts, reason, ids, p:<id>...)."""
        raw = yield self.redis.hgetall(self.prefix + "m:" + key)
        return {_text(k): _text(v) for k, v in (raw or {}).items()}

    @defer.inlineCallbacks
    def counts(self) -> Any:
        waiting = yield self.redis.zcard(self.q)
        sending = yield self.redis.zcard(self.f)
        dead = yield self.redis.llen(self.dead_key)
        return {"queued": int(waiting), "sending": int(sending), "dead": int(dead)}

    @defer.inlineCallbacks
    def dead_letters(self, limit: int = 100) -> Any:
        """Newest first: [{key, to (masked), kind, state, reason, attempts}]."""
        keys = yield self.redis.lrange(self.dead_key, 0, limit - 1)
        out = []
        for key in keys:
            key = _text(key)
            h = yield self.state(key)
            to = h.get("to", "")
            out.append({"key": key, "to": mask_tail(to),
                        "kind": h.get("kind", ""), "state": h.get("state", ""),
                        "reason": h.get("reason", ""), "attempts": h.get("attempts", "")})
        return out
