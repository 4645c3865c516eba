"""Two live senders (two nodes) drain one Redis outbox into the SMSC simulator over TCP while
a third node that died holds some messages in flight: every message reaches the SMSC exactly
once.  Outbox time is a ``Clock`` moved on while messages flow, so leases lapse and both
senders run their periodic ``reclaim`` in the middle of the traffic, as a day of it would."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest_twisted
from sms_support import sender_for
from twisted.internet import defer, reactor, task

from sms.api import OutgoingSms
from sms.redis_outbox import RedisOutbox
from sms.smsc import start_smsc

TOTAL = 10_000
LEASE = 60.0
STEP = 25.0  # outbox seconds that pass per EVERY messages reaching the SMSC
EVERY = 500


async def _until(done: Any, what: str, limit_s: float = 60.0) -> None:
    """Wait (polling real I/O, not time) until ``done()`` is true; fail after ``limit_s``."""
    for _ in range(int(limit_s / 0.02)):
        if await defer.maybeDeferred(done):
            return
        await task.deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


@pytest_twisted.ensureDeferred
async def test_two_senders_on_one_outbox_submit_each_message_once(redis) -> None:
    clock = task.Clock()
    clock.advance(1_000_000)
    seen: Counter[str] = Counter()
    senders: list[Any] = []

    def received(to: str, source: str, text: str) -> None:
        seen[text] += 1
        if sum(seen.values()) % EVERY == 0:  # time passes while the traffic flows
            clock.advance(STEP)
            for s in senders:
                s.reclaim()

    listener = start_smsc(reactor, 0, on_message=received)
    port = listener.getHost().port
    boxes = {name: RedisOutbox(redis, clock, scheduler=reactor, owner=f"{name}:8080",
                               lease_s=LEASE) for name in "abc"}
    await defer.gatherResults([
        boxes["a"].put(OutgoingSms("8613800138000", f"msg {i}", f"k{i}", "booked"))
        for i in range(TOTAL)])
    died_holding = await boxes["c"].take(100)  # node c took these, then died
    assert len(died_holding) == 100
    senders += [sender_for(port, outbox=boxes["a"]), sender_for(port, outbox=boxes["b"])]
    try:
        await _until(lambda: len(seen) == TOTAL, "every message at the SMSC")

        async def settled() -> bool:
            counts = await boxes["a"].counts()
            return (counts["queued"] == counts["sending"] == 0
                    and all(s.pump.active == 0 for s in senders))

        await _until(settled, "the outbox to settle")  # nothing left that could go out again
    finally:
        for s in senders:
            await s.stopService()
        await listener.stopListening()
    twice = {text: n for text, n in seen.items() if n != 1}
    assert not twice, f"{len(twice)} messages reached the SMSC more than once"
    assert sum(seen.values()) == len(seen) == TOTAL
    assert len(listener.factory.submits) == TOTAL
    owners = Counter([(await boxes["a"].state(m.key))["owner"] for m in died_holding])
    assert set(owners) <= {"a:8080", "b:8080"}  # the dead node's claims lapsed and were taken
    by_owner = Counter()
    for i in range(0, TOTAL, 97):
        state = await boxes["a"].state(f"k{i}")
        assert state["state"] in ("submitted", "delivered")
        by_owner[state["owner"]] += 1
    assert by_owner["a:8080"] and by_owner["b:8080"]  # both senders took a share
