"""The in-memory outbox: dedup by key, oldest first, a retried message keeps its place."""

from __future__ import annotations

from sms.api import OutgoingSms
from sms.outbox import MemoryOutbox
from sms.testing import RecordingSender


def sms(key: str) -> OutgoingSms:
    return OutgoingSms("8613800138000", f"text {key}", key)


def test_dedup_and_order() -> None:
    box = MemoryOutbox()
    assert box.put(sms("a")) and box.put(sms("b")) and not box.put(sms("a"))
    assert len(box) == 2
    a, b = box.take(), box.take()
    assert (a.key, b.key) == ("a", "b") and box.take() is None
    box.put(sms("c"))
    box.retry(b)
    box.retry(a)
    assert [box.take().key for _ in range(3)] == ["a", "b", "c"]


def test_done_and_dead_keep_the_key_seen() -> None:
    box = MemoryOutbox()
    box.put(sms("a"))
    box.dead(box.take(), "RINVDSTADR")
    assert box.dead_letters == [(sms("a"), "RINVDSTADR")]
    assert not box.put(sms("a"))


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
