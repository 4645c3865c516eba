"""Flow control on one bind: window bounds, the TPS token bucket and throttle responses
(RTHROTTLED / RMSGQFUL pause the window, resubmit with a new sequence number, capped)."""

from __future__ import annotations

import pytest
from sms_support import bound_esme, feed, outcome, submit_params, take
from twisted.internet.testing import MemoryReactorClock

from sms.api import OutgoingSms
from sms.esme import EsmeConfig, SmppError
from sms.flow import Backoff, TokenBucket
from sms.outbox import MemoryOutbox
from sms.service import SmppSender
from sms.smpp import status as st
from sms.smpp.pdu import response_for


@pytest.mark.parametrize("window", [0, 101, -1])
def test_window_outside_1_to_100_is_refused(window: int) -> None:
    with pytest.raises(ValueError, match="window must be 1-100"):
        EsmeConfig("hotline", "secret", window=window)


def test_token_bucket_rate_and_burst() -> None:
    bucket = TokenBucket(200, now=0.0)  # burst defaults to 10 (50 ms worth)
    assert [bucket.take(0.0) for _ in range(11)] == [True] * 10 + [False]
    assert bucket.wait(0.0) == pytest.approx(1 / 200)
    sent = sum(bucket.take(t / 1000) for t in range(1, 10_001))  # 10 s in 1 ms steps
    assert sent == pytest.approx(2000, abs=10)
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_backoff_doubles_to_a_cap() -> None:
    assert [Backoff().delay(n) for n in (1, 2, 3, 6, 9)] == [1, 2, 4, 30, 30]


def test_tps_limit_paces_submits_on_the_injected_clock() -> None:
    proto, transport, clock, _ = bound_esme(tps=10, window=100)
    for _ in range(5):
        proto.submit(submit_params())
    assert len(take(transport)) == 1  # burst of one at 10/s
    clock.advance(0.05)
    assert take(transport) == []
    clock.advance(0.05)
    assert len(take(transport)) == 1
    clock.advance(0.1)
    clock.advance(0.1)
    assert len(take(transport)) == 2
    assert proto.queued == 1


def test_throttle_pauses_the_window_and_resubmits_with_a_new_seq() -> None:
    proto, transport, clock, _ = bound_esme(window=10)
    results = [outcome(proto.submit(submit_params())) for _ in range(3)]
    first, second, third = take(transport)
    feed(proto, response_for(first, st.RTHROTTLED))
    proto.submit(submit_params(b"later"))
    assert take(transport) == [] and results[0] == []  # paused: nothing new goes out
    feed(proto, response_for(second, message_id="b"), response_for(third, message_id="c"))
    clock.advance(0.999)
    assert take(transport) == []
    clock.advance(0.001)
    again, later = take(transport)
    assert again.params["short_message"] == first.params["short_message"]
    assert again.seq not in (first.seq, second.seq, third.seq)  # a new sequence number
    assert later.params["short_message"] == b"later"  # the throttled one goes first
    feed(proto, response_for(again, message_id="a"))
    assert [r[0] for r in results] == ["a", "b", "c"]


def test_msgqful_backoff_grows_and_retries_are_capped() -> None:
    proto, transport, clock, _ = bound_esme(throttle_retries=2)
    result = outcome(proto.submit(submit_params()))
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RMSGQFUL))
    clock.advance(1.0)  # first pause 1 s
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RMSGQFUL))
    clock.advance(1.0)
    assert take(transport) == []  # second pause is 2 s
    clock.advance(1.0)
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RMSGQFUL))  # third time: retries spent
    error = result[0].value
    assert isinstance(error, SmppError) and error.status == st.RMSGQFUL
    assert proto.throttled == 3 and proto.in_flight == 0


def test_a_success_resets_the_throttle_backoff() -> None:
    proto, transport, clock, _ = bound_esme()
    proto.submit(submit_params())
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RTHROTTLED))
    clock.advance(1.0)
    (sub,) = take(transport)
    feed(proto, response_for(sub, message_id="1"))
    proto.submit(submit_params())
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RTHROTTLED))
    clock.advance(1.0)  # 1 s again, not 2
    assert len(take(transport)) == 1


def test_sender_dead_letters_a_message_throttled_past_its_retries() -> None:
    """After the ESME's capped resubmissions the sender does not retry: dead, with a reason."""
    clock = MemoryReactorClock()
    box = MemoryOutbox(clock=clock)
    sender = SmppSender("127.0.0.1", 1, "hotline", "secret", "12580", reactor=clock,
                        clock=clock, outbox=box)
    sender._ready = sender.running = True
    proto, transport, _, _ = bound_esme(throttle_retries=0)
    proto.clock = clock
    sender._esme = proto
    sender.send(OutgoingSms("8613800138000", "hello", "k"))
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RTHROTTLED))
    ((message, why),) = box.dead_letters
    assert message.key == "k" and "0x58" in why
    assert box.states["k"].value == "dead"


def test_token_waits_always_move_a_unix_time_clock_forward() -> None:
    from sms.flow import TokenBucket

    now = 1_764_900_000.0  # a float this large has ~0.2 us steps: a tiny wait would not move
    bucket = TokenBucket(10, now=now)
    taken = 0
    for _ in range(1000):
        if bucket.take(now):
            taken += 1
            continue
        wait = bucket.wait(now)
        assert now + wait > now
        now += wait
    assert taken >= 10
