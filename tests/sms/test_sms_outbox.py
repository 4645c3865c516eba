"""Outboxes: dedup by key, oldest first, a retried message keeps its place, validity, states.

The durable one runs against the real redis-server of the test session."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from twisted.internet import defer, reactor
from twisted.internet.task import Clock

from sms.api import OutgoingSms
from sms.outbox import MemoryOutbox, State
from sms.redis_outbox import RedisOutbox
from sms.testing import RecordingSender


def sms(key: str, valid_until: float | None = None) -> OutgoingSms:
    return OutgoingSms("8613800138000", f"text {key}", key, "booked", valid_until)


def test_dedup_and_order() -> None:
    box = MemoryOutbox()
    assert box.put(sms("a")) and box.put(sms("b")) and not box.put(sms("a"))
    assert len(box) == 2
    a, b = box.take(2)
    assert (a.key, b.key) == ("a", "b") and box.take(1) == []
    box.put(sms("c"))
    box.retry(b)
    box.retry(a)
    assert [m.key for m in box.take(5)] == ["a", "b", "c"]


def test_done_and_dead_keep_the_key_seen() -> None:
    box = MemoryOutbox()
    box.put(sms("a"))
    box.dead(box.take(1)[0], "RINVDSTADR")
    assert box.dead_letters == [(sms("a"), "RINVDSTADR")]
    assert box.states["a"] is State.DEAD
    assert not box.put(sms("a"))


def test_memory_outbox_drops_expired_messages() -> None:
    clock = Clock()
    clock.advance(1000)
    box = MemoryOutbox(clock=clock)
    box.put(sms("old", valid_until=999))
    box.put(sms("fresh", valid_until=2000))
    assert [m.key for m in box.take(5)] == ["fresh"]
    assert box.dead_letters == [(sms("old", 999), "expired")]


def test_seen_keys_are_bounded() -> None:
    box = MemoryOutbox(seen_limit=2)
    for key in "abc":
        box.put(sms(key))
    assert box.put(sms("a"))  # forgotten: oldest of the three
    assert not box.put(sms("c"))


def test_recording_sender_twin_dedups() -> None:
    sender = RecordingSender()
    sender.send(sms("a"))
    sender.send(sms("a"))
    assert sender.sent == [sms("a")]


@pytest_twisted.ensureDeferred
async def test_redis_outbox_persists_dedups_and_keeps_order(redis) -> None:
    box = RedisOutbox(redis, reactor)
    added = [await box.put(sms(k)) for k in "abc"] + [await box.put(sms("a"))]
    assert added == [True, True, True, False]
    a, b = await box.take(2)
    assert (a, b.key) == (sms("a"), "b")
    assert (await box.state("a"))["state"] == "sending"
    await box.retry(a)
    assert [m.key for m in await box.take(10)] == ["a", "c"]
    assert await box.counts() == {"queued": 0, "sending": 3, "dead": 0}


@pytest_twisted.ensureDeferred
async def test_redis_outbox_survives_a_restart_of_its_sender(redis) -> None:
    first = RedisOutbox(redis, reactor)
    for k in "ab":
        await first.put(sms(k))
    await first.take(1)  # the process dies with "a" in flight
    second = RedisOutbox(redis, reactor)  # a new process: same Redis
    assert await second.recover() == 1
    assert [m.key for m in await second.take(5)] == ["a", "b"]
    assert (await second.state("a"))["attempts"] == "2"


@pytest_twisted.ensureDeferred
async def test_redis_outbox_same_turn_puts_share_one_script_call(redis) -> None:
    box = RedisOutbox(redis, reactor)
    calls = []
    original = box._put_many
    box._puts.run = lambda items: calls.append(len(items)) or original(items)
    results = await defer.gatherResults(
        [box.put(sms(f"k{i}")) for i in range(50)] + [box.put(sms("k1"))])
    assert calls == [51] and results.count(True) == 50 and results[-1] is False


@pytest_twisted.ensureDeferred
async def test_redis_outbox_one_turns_answers_and_receipts_share_one_script_call(redis) -> None:
    class Counting:
        def __init__(self) -> None:
            self.scripts = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(redis, name)

        def evalsha(self, *args: Any) -> Any:
            self.scripts += 1
            return redis.evalsha(*args)

    counting = Counting()
    box = RedisOutbox(counting, reactor)
    await defer.gatherResults([box.put(sms("a")), box.put(sms("b"))])
    a, b = await box.take(2)
    await box.receipt("", "i0", "DELIVRD")  # Redis has learnt the script
    before = counting.scripts
    states = await defer.gatherResults([
        box.done(a, ["i1"]), box.receipt("a", "i1", "DELIVRD"), box.done(b, ["i2"]),
        box.receipt("", "i9", "DELIVRD")])
    assert counting.scripts - before == 1
    assert states == ["submitted", "delivered", "submitted", ""]  # in the order they came


@pytest_twisted.ensureDeferred
async def test_redis_outbox_validity_and_dead_letters_with_reasons(redis) -> None:
    clock = Clock()
    clock.advance(10_000)
    box = RedisOutbox(redis, clock, scheduler=reactor)
    await box._put_many([sms("stale", valid_until=9_000.0), sms("bad"), sms("ok")])
    taken = await box.take(5)
    assert [m.key for m in taken] == ["bad", "ok"]
    await box.dead(taken[0], "submit_sm failed: command_status 0x0B")
    dead = await box.dead_letters()
    assert [(d["key"], d["state"]) for d in dead] == [("bad", "dead"), ("stale", "expired")]
    assert dead[0]["reason"].endswith("0x0B") and dead[0]["to"] == "*********8000"
    assert (await box.state("stale"))["reason"].startswith("expired")
    assert await box._put_many([sms("bad")]) == [False]  # the key stays seen


@pytest_twisted.ensureDeferred
async def test_redis_outbox_receipts_aggregate_parts_and_never_regress(redis) -> None:
    clock = Clock()
    box = RedisOutbox(redis, clock, scheduler=reactor)
    await box._put_many([sms("long")])
    await box.take(1)
    assert await box._settle_many([("d", "long", "a1,a2")]) == ["submitted"]
    assert await box.receipt("", "a1", "DELIVRD") == "submitted"  # found by id
    assert await box.receipt("long", "a2", "ENROUTE") == "submitted"
    assert await box.receipt("long", "a2", "DELIVRD") == "delivered"
    assert await box.receipt("long", "a2", "UNDELIV") == "delivered"  # never regresses
    assert (await box.state("long"))["p:a2"] == "DELIVRD"
    assert await box.receipt("", "nope", "DELIVRD") == ""  # unknown id: the caller holds it
    ttl = await redis.ttl("hl:{sms}:id:a1")
    assert 0 < int(ttl) <= 3600  # shortened once final


@pytest_twisted.ensureDeferred
async def test_redis_outbox_receipt_before_done_is_counted_at_done(redis) -> None:
    box = RedisOutbox(redis, Clock(), scheduler=reactor)
    await box._put_many([sms("x")])
    await box.take(1)
    assert await box.receipt("x", "b1", "UNDELIV") == "sending"
    assert await box._settle_many([("d", "x", "b1")]) == ["undelivered"]


@pytest_twisted.ensureDeferred
async def test_another_nodes_message_in_flight_is_taken_back_only_after_its_lease(redis) -> None:
    clock = Clock()
    clock.advance(1_000_000)
    node_a = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080", lease_s=300)
    node_b = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080", lease_s=300)
    for k in "xy":
        await node_a.put(sms(k))
    assert [m.key for m in await node_a.take(1)] == ["x"]  # node a is sending "x"
    assert await node_b.recover() == 0  # b starts: a's message is not b's to resend
    assert (await node_a.state("x"))["state"] == "sending"
    clock.advance(299)
    assert await node_b.recover() == 0
    clock.advance(2)  # a has held "x" past its lease: a died, or is stuck
    assert await node_b.recover() == 1
    assert [m.key for m in await node_b.take(5)] == ["x", "y"]  # x keeps its place
    assert (await node_b.state("x"))["owner"] == "b:8080"


@pytest_twisted.ensureDeferred
async def test_a_restarted_node_takes_back_its_own_messages_at_once(redis) -> None:
    clock = Clock()
    clock.advance(1_000_000)
    before = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080")
    other = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080")
    for k in "xy":
        await before.put(sms(k))
    await before.take(1)
    await other.take(1)
    after = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080")  # a, restarted
    assert await after.recover() == 1  # its own "x"; b's "y" stays with b
    assert await after.counts() == {"queued": 1, "sending": 1, "dead": 0}


@pytest_twisted.ensureDeferred
async def test_a_live_owner_keeps_its_claim_by_renewing_the_lease(redis) -> None:
    clock = Clock()
    clock.advance(1_000_000)
    node_a = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080", lease_s=60)
    node_b = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080", lease_s=60)
    await node_a.put(sms("x"))
    await node_a.take(1)
    for _ in range(5):  # a holds "x" (a slow SMSC) far past one lease, renewing it
        clock.advance(40)
        assert await node_a.renew() == []
        assert await node_b.reclaim() == 0
    assert await node_a.reclaim() == 0  # a live sender's periodic reclaim spares its own
    assert (await node_a.state("x"))["owner"] == "a:8080"


@pytest_twisted.ensureDeferred
async def test_a_stale_owner_cannot_put_back_or_bury_what_another_sender_took(redis) -> None:
    clock = Clock()
    clock.advance(1_000_000)
    node_a = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080", lease_s=60)
    node_b = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080", lease_s=60)
    await node_a.put(sms("x"))
    (x,) = await node_a.take(1)
    clock.advance(61)  # a was stuck past its lease
    assert await node_b.reclaim() == 1
    assert [m.key for m in await node_b.take(1)] == ["x"]
    assert await node_a.renew() == ["x"]  # a, back, learns it lost "x"
    assert await node_a.retry(x) == 0 and await node_a.dead(x, "timeout") == 0
    assert await node_b.counts() == {"queued": 0, "sending": 1, "dead": 0}
    assert (await node_b.state("x"))["owner"] == "b:8080"


@pytest_twisted.ensureDeferred
async def test_a_stale_owners_done_stops_a_resend_of_what_went_back_to_waiting(redis) -> None:
    clock = Clock()
    clock.advance(1_000_000)
    node_a = RedisOutbox(redis, clock, scheduler=reactor, owner="a:8080", lease_s=60)
    node_b = RedisOutbox(redis, clock, scheduler=reactor, owner="b:8080", lease_s=60)
    await node_a.put(sms("x"))
    (x,) = await node_a.take(1)
    clock.advance(61)
    assert await node_b.reclaim() == 1  # back to waiting...
    assert await node_a.done(x, ["m1"]) == "submitted"  # ...but a's submit was accepted
    assert await node_b.take(5) == []
    assert await node_b.counts() == {"queued": 0, "sending": 0, "dead": 0}
