"""``sms.sending.OutboxPump`` on its own: a fake link, a ``MemoryOutbox`` and a ``Clock``."""

from __future__ import annotations

from typing import Any

from twisted.internet import defer
from twisted.internet.task import Clock

from sms.api import OutgoingSms
from sms.esme import LinkLost, ResponseTimeout, State
from sms.outbox import MemoryOutbox
from sms.sending import OutboxPump


class FakeLink:
    """Bound; each submit_sm's Deferred is kept for the test to answer."""

    def __init__(self) -> None:
        self.state = State.BOUND
        self.submits: list[tuple[dict[str, Any], defer.Deferred[Any]]] = []

    def submit(self, params: dict[str, Any]) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = defer.Deferred()
        self.submits.append((params, d))
        return d


def make_pump(outbox: Any, link: FakeLink, clock: Clock, **limits: Any) -> tuple[OutboxPump, list]:
    remembered: list[tuple[str, str]] = []

    def remember(message_id: str, key: str) -> str:
        remembered.append((message_id, key))
        return message_id

    pump = OutboxPump(outbox, link=lambda: link, may_take=lambda: True, later=clock.callLater,
                      remember=remember, source_addr="12580", source_ton_npi=(5, 0), **limits)
    return pump, remembered


def sms(key: str) -> OutgoingSms:
    return OutgoingSms("8613800138000", "hello", key)


def test_prefetch_bounds_what_is_out_and_an_accepted_submit_frees_its_slot() -> None:
    clock, link = Clock(), FakeLink()
    box = MemoryOutbox(clock=clock)
    pump, remembered = make_pump(box, link, clock, prefetch=2)
    for key in ("a", "b", "c"):
        box.put(sms(key))
    pump.flush()
    assert [p["destination_addr"] for p, _ in link.submits] == ["8613800138000"] * 2
    params = link.submits[0][0]
    assert (params["source_addr"], params["source_addr_ton"], params["source_addr_npi"]) == (
        "12580", 5, 0)
    assert pump.active == 2 and len(box) == 1
    link.submits[0][1].callback("1F")
    assert remembered == [("1F", "a")] and box.states["a"].value == "submitted"
    assert len(link.submits) == 3 and pump.active == 2 and len(box) == 0


def test_takes_wait_for_a_quarter_of_the_prefetch_unless_the_link_runs_short() -> None:
    clock, link = Clock(), FakeLink()
    box = MemoryOutbox(clock=clock)
    takes: list[int] = []

    class CountingOutbox:
        def __getattr__(self, name: str) -> Any:
            return getattr(box, name)

        def take(self, limit: int) -> list[OutgoingSms]:
            takes.append(limit)
            return box.take(limit)

    pump, _ = make_pump(CountingOutbox(), link, clock, prefetch=8, retry_delay=5.0)
    for i in range(30):
        box.put(sms(f"m{i}"))
    pump.flush()
    assert takes == [8] and len(link.submits) == 8
    link.submits[0][1].callback("1")
    assert takes == [8]  # one slot free, seven still at the link: no take yet
    link.submits[1][1].callback("2")
    assert takes == [8, 2] and len(link.submits) == 10  # a quarter free: one take of two
    for _, d in link.submits[2:8]:  # six wait on a retry timer: they do not keep the link busy
        d.errback(ResponseTimeout("no resp"))
    assert takes == [8, 2] and pump.active == 8
    link.submits[8][1].callback("9")
    assert takes == [8, 2, 1] and len(link.submits) == 11
    clock.advance(5.0)  # the six go back to waiting, and the pump fills up again
    assert pump.active == 8 and len(box) == 30 - 11


def test_an_arrival_during_a_take_is_taken_once_that_take_answers() -> None:
    clock, link = Clock(), FakeLink()
    box = MemoryOutbox(clock=clock)
    takes: list[defer.Deferred[list[OutgoingSms]]] = []

    class SlowOutbox:  # take answers later, as Redis does
        def __getattr__(self, name: str) -> Any:
            return getattr(box, name)

        def take(self, limit: int) -> defer.Deferred[list[OutgoingSms]]:
            takes.append(d := defer.Deferred())
            return d

    pump, _ = make_pump(SlowOutbox(), link, clock)
    pump.flush()
    box.put(sms("a"))
    pump.flush()  # one take at a time: this one only notes the arrival
    assert len(takes) == 1
    takes[0].callback([])  # the first take missed it
    assert len(takes) == 2  # so it takes again at once
    takes[1].callback(box.take(32))
    assert len(link.submits) == 1 and len(takes) == 3


def test_a_timeout_is_retried_after_delay_times_attempt_then_dead_letters() -> None:
    clock, link = Clock(), FakeLink()
    box = MemoryOutbox(clock=clock)
    pump, _ = make_pump(box, link, clock, max_attempts=3, retry_delay=2.0)
    box.put(sms("k"))
    pump.flush()
    link.submits[-1][1].errback(ResponseTimeout("no resp"))  # attempt 1: back in 2 s
    clock.advance(1.9)
    assert len(link.submits) == 1 and box.states["k"].value == "sending"
    clock.advance(0.1)
    assert len(link.submits) == 2
    link.submits[-1][1].errback(ResponseTimeout("no resp"))  # attempt 2: back in 4 s
    clock.advance(3.9)
    assert len(link.submits) == 2
    clock.advance(0.1)
    link.submits[-1][1].errback(ResponseTimeout("no resp"))  # attempt 3 of 3: given up
    ((message, why),) = box.dead_letters
    assert message.key == "k" and why == "no resp (attempt 3)"
    assert pump.active == 0 and not clock.getDelayedCalls()


def test_a_lost_link_puts_the_message_back_without_counting_an_attempt() -> None:
    clock, link = Clock(), FakeLink()
    box = MemoryOutbox(clock=clock)
    box.put(sms("k"))
    up = [True]
    pump = OutboxPump(box, link=lambda: link, may_take=lambda: up[0], later=clock.callLater,
                      remember=lambda i, k: i, source_addr="12580", max_attempts=2)
    pump.flush()
    up[0] = False  # the link went down: nothing is taken until it is back
    link.submits[-1][1].errback(LinkLost("gone"))
    assert box.states["k"].value == "queued" and len(link.submits) == 1 and pump.active == 0
    up[0] = True
    pump.flush()
    link.submits[-1][1].errback(ResponseTimeout("no resp"))  # the first counted attempt
    clock.advance(5.0)
    link.submits[-1][1].errback(ResponseTimeout("no resp"))
    ((_, why),) = box.dead_letters
    assert why == "no resp (attempt 2)"
