"""The durable outbox: every message is in Redis before the SMSC sees it (``sms.outbox.Outbox``).

At least once: a message is ``sending`` while its submit_sm are out; a crash leaves it in the
in-flight set and ``recover()`` (called when the sender starts) puts it back to waiting, so it
is sent again (a duplicate only where the SMSC had accepted a part whose resp was lost).  The
idempotency key is the message hash's name: a key seen within ``retention`` is not queued
again.  ``put`` calls made in the same reactor turn share one EVALSHA, and so do ``done`` and
``receipt`` calls (in the order they were made), so a busy sender does not pay a Redis round
trip per message (bench/RESULTS.md, smpp_mt and cmpp_mt).

Several senders (nodes) may share one outbox: each message in flight is claimed by the sender
that took it, under a lease it keeps renewing while it holds the message (``start``/``stop``
run the renewal); see ``sms.redis_lua`` for the rules that keep two live senders from both
submitting one message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import txredisapi
from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from pii import mask_tail
from sms import redis_lua
from sms.api import OutgoingSms

log = Logger(namespace="sms.outbox")
PREFIX = "hl:{sms}:"
DAY = 24 * 3600


class Script:
    """EVALSHA with a reload when Redis forgot the script (restart, SCRIPT FLUSH)."""

    def __init__(self, redis: Any, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8")).hexdigest()

    def __call__(self, keys: Sequence[str], args: Sequence[object]) -> defer.Deferred[Any]:
        keys, argv = list(keys), [a if isinstance(a, str) else str(a) for a in args]
        d = self.redis.evalsha(self.sha, keys, argv)
        return d.addErrback(self._reload, keys, argv)

    def _reload(self, failure: Failure, keys: list[str], argv: list[str]) -> Any:
        failure.trap(txredisapi.ScriptDoesNotExist)

        def loaded(sha: str) -> Any:
            self.sha = sha
            return self.redis.evalsha(sha, keys, argv)

        return self.redis.script_load(self.source).addCallback(loaded)


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
        node sharing the Redis); ``lease_s``: how long a message stays claimed without its
        owner renewing the claim (``start`` renews every third of it) before another sender
        may take it back (its owner died, or is stuck)."""
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
        self._retry, self._settle = Script(redis, redis_lua.RETRY), Script(redis, redis_lua.SETTLE)
        self._dead = Script(redis, redis_lua.DEAD)
        self._recover = Script(redis, redis_lua.RECOVER)
        self._renew = Script(redis, redis_lua.RENEW)
        self._held: dict[str, None] = {}  # keys this sender took and has not settled yet
        self._renewal: LoopingCall | None = None
        turns = scheduler if scheduler is not None else clock
        self._puts = _Batch(turns, self._put_many)
        self._settles = _Batch(turns, self._settle_many)  # done and receipt, in order

    def _now(self) -> int:
        return int(self.clock.seconds())

    # -- claims --------------------------------------------------------------------------
    def start(self) -> None:
        """Renew the leases of the messages this sender holds every third of ``lease_s``, on
        ``clock`` (the sender calls it as it starts)."""
        if self._renewal is not None:
            return
        self._renewal = LoopingCall(self._renew_quietly)
        self._renewal.clock = self.clock
        self._renewal.start(max(self.lease_s / 3, 0.001), now=False)

    def stop(self) -> None:
        if self._renewal is not None and self._renewal.running:
            self._renewal.stop()
        self._renewal = None

    def _renew_quietly(self) -> defer.Deferred[Any]:
        d = self.renew()
        d.addErrback(lambda f: log.warn("sms.lease_renew_failed why={why}",
                                        why=f.getErrorMessage()))
        return d

    @defer.inlineCallbacks
    def renew(self) -> Any:
        """Extend the lease of every message this sender still holds; the keys it lost (its
        lease had lapsed before, and another sender took them back)."""
        held = list(self._held)
        if not held:
            return []
        lost = yield self._renew([self.f], [self.prefix, self.owner, self._now(),
                                            self.lease_s, *held])
        lost = [_text(k) for k in lost]
        if lost:
            log.warn("sms.lease_lost owner={owner} n={n}", owner=self.owner, n=len(lost))
        return lost

    def _release(self, key: str) -> None:
        self._held.pop(key, None)

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

    def take(self, limit: int) -> defer.Deferred[list[OutgoingSms]]:
        d = self._take([self.q, self.f, self.dead_key],
                       [self.prefix, max(int(limit), 1), self._now(), self.retention,
                        self.owner, self.lease_s])
        return d.addCallback(self._taken)

    def _taken(self, flat: list[Any]) -> list[OutgoingSms]:
        out = []
        for i in range(0, len(flat), 5):
            key, to, text, kind, valid = (_text(v) for v in flat[i:i + 5])
            out.append(OutgoingSms(to, text, key, kind, float(valid) if valid else None))
            self._held[key] = None
        return out

    def retry(self, message: OutgoingSms) -> defer.Deferred[Any]:
        self._release(message.key)
        return self._retry([self.q, self.f],
                           [self.prefix, message.key, self._now(), self.owner])

    def done(self, message: OutgoingSms, message_ids: Sequence[str] = ()) -> defer.Deferred[str]:
        self._release(message.key)
        return self._settles.add(("d", message.key, ",".join(message_ids)))

    def dead(self, message: OutgoingSms, reason: str) -> defer.Deferred[Any]:
        self._release(message.key)
        return self._dead([self.q, self.f, self.dead_key],
                          [self.prefix, message.key, reason, self._now(), self.retention,
                           self.owner])

    def receipt(self, key: str, message_id: str, stat: str) -> defer.Deferred[str]:
        return self._settles.add(("r", key, message_id, stat))

    def _settle_many(self, items: list[tuple[str, ...]]) -> Any:
        keys = [self.f, self.q]
        args: list[object] = [self.prefix, self._now(), self.retention, self.id_ttl,
                              self.final_id_ttl, self.owner]
        for item in items:
            args += item
            if item[0] == "r":
                keys.append(self.prefix + "id:" + item[2])
        d = self._settle(keys, args)
        return d.addCallback(lambda states: [_text(s) for s in states])

    # -- operations ----------------------------------------------------------------------
    def recover(self) -> defer.Deferred[int]:
        """Put back to waiting what this sender had in flight (it is starting: nothing of its
        own is out) and what any sender holds past its lease; how many."""
        self._held.clear()
        return self._recover_run(mine=True)

    def reclaim(self) -> defer.Deferred[int]:
        """Put back to waiting what any sender holds past its lease (run periodically by a
        live sender: its own messages stay, their leases renewed); how many."""
        return self._recover_run(mine=False)

    def _recover_run(self, *, mine: bool) -> defer.Deferred[int]:
        d = self._recover([self.q, self.f], [self.prefix, self._now(), self.owner,
                                             self.lease_s, 1 if mine else 0])
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
