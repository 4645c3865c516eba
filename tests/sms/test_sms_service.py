"""SmppSender over real TCP against the loopback SMSC simulator: queue, dedup, reconnect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import pytest_twisted
from sms_support import sender_for
from twisted.internet import defer, reactor
from twisted.internet.task import Clock

from sms.api import OutgoingSms
from sms.service import SmppSender, reconnect_policy
from sms.smpp import status as st
from sms.smpp.pdu import response_for
from sms.smsc import SmscFactory, SmscProtocol, start_smsc

TO = "8613800138000"
TCODE_SMS = "【深圳市第一人民医院】预约成功：内科 11月26日 上午，取号码 1234567890。"


class Inbox:
    """on_message target whose ``wait(n)`` fires once n messages have arrived."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self._waiters: list[tuple[int, defer.Deferred[None]]] = []

    def __call__(self, to: str, source: str, text: str) -> None:
        self.messages.append((to, source, text))
        for n, d in list(self._waiters):
            if len(self.messages) >= n:
                self._waiters.remove((n, d))
                d.callback(None)

    def wait(self, n: int) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        if len(self.messages) >= n:
            d.callback(None)
        else:
            self._waiters.append((n, d))
        return d.addTimeout(10, reactor)



@pytest_twisted.ensureDeferred
async def test_sends_chinese_tcode_once_with_receipt() -> None:
    inbox = Inbox()
    listening = start_smsc(reactor, 0, inbox, credentials=("hotline", "secret"))
    receipts: list = []
    got_receipt: defer.Deferred[None] = defer.Deferred()

    def on_receipt(key: str, receipt: Any) -> None:
        receipts.append((key, receipt.stat))
        got_receipt.callback(None)

    sender = sender_for(listening.getHost().port, on_receipt=on_receipt)
    try:
        sender.send(OutgoingSms(TO, TCODE_SMS, "booked:1234567890"))
        sender.send(OutgoingSms(TO, TCODE_SMS, "booked:1234567890"))  # duplicate key
        sender.send(OutgoingSms(TO, "sentinel", "sentinel"))
        await inbox.wait(2)
        await got_receipt.addTimeout(10, reactor)
        assert inbox.messages == [(TO, "12580", TCODE_SMS), (TO, "12580", "sentinel")]
        assert receipts[0] == ("booked:1234567890", "DELIVRD")
        submit = listening.factory.submits[0]
        assert submit.params["data_coding"] == 8 and submit.params["registered_delivery"] == 1
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_long_message_arrives_whole() -> None:
    inbox = Inbox()
    listening = start_smsc(reactor, 0, inbox)
    sender = sender_for(listening.getHost().port)
    text = "复诊提醒：请携带身份证与病历本。" * 12
    try:
        sender.send(OutgoingSms(TO, text, "long"))
        await inbox.wait(1)
        assert inbox.messages == [(TO, "12580", text)]
        assert len(listening.factory.submits) == 3
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_queued_while_smsc_down_then_delivered_after_reconnect() -> None:
    inbox = Inbox()
    listening = start_smsc(reactor, 0, inbox)
    port = listening.getHost().port
    acked: defer.Deferred[None] = defer.Deferred()
    sender = sender_for(port, on_receipt=lambda key, r: acked.callback(None))
    try:
        sender.send(OutgoingSms(TO, "first", "a"))
        await acked.addTimeout(10, reactor)  # resp and receipt are in: "first" is done
        await listening.stopListening()
        listening.factory.drop_all()
        sender.send(OutgoingSms(TO, "while down", "b"))
        listening = start_smsc(reactor, port, inbox)
        await inbox.wait(2)
        assert [m[2] for m in inbox.messages] == ["first", "while down"]
    finally:
        await sender.stopService()
        await listening.stopListening()


class DropOnFirstSubmit(SmscProtocol):
    """Accepts the bind, then vanishes without answering the first submit_sm it sees."""

    dropped = 0

    def _submit(self, pdu: Any) -> None:
        if DropOnFirstSubmit.dropped == 0:
            DropOnFirstSubmit.dropped += 1
            self.transport.loseConnection()
            return
        super()._submit(pdu)


@pytest_twisted.ensureDeferred
async def test_submit_lost_with_the_link_is_resent_after_reconnect() -> None:
    inbox = Inbox()
    factory = SmscFactory(inbox)
    factory.protocol = DropOnFirstSubmit
    listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
    sender = sender_for(listening.getHost().port)
    try:
        sender.send(OutgoingSms(TO, TCODE_SMS, "k"))
        await inbox.wait(1)
        assert DropOnFirstSubmit.dropped == 1
        assert inbox.messages == [(TO, "12580", TCODE_SMS)]
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_stop_service_unbinds_politely() -> None:
    inbox = Inbox()
    listening = start_smsc(reactor, 0, inbox)
    sender = sender_for(listening.getHost().port)
    sender.send(OutgoingSms(TO, "hello", "h"))
    await inbox.wait(1)
    assert sender.bound
    await sender.stopService()
    assert not sender.bound
    assert listening.factory.unbinds == 1
    await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_unsendable_message_is_dead_lettered_and_the_queue_moves_on() -> None:
    inbox = Inbox()
    listening = start_smsc(reactor, 0, inbox)
    sender = sender_for(listening.getHost().port)
    try:
        sender.send(OutgoingSms("1" * 30, "too long an address", "bad"))
        sender.send(OutgoingSms(TO, "fine", "good"))
        await inbox.wait(1)
        assert inbox.messages == [(TO, "12580", "fine")]
        (dead, why), = sender.outbox.dead_letters
        assert dead.key == "bad" and "not 1-20 digits" in why
    finally:
        await sender.stopService()
        await listening.stopListening()


def test_reconnect_policy_doubles_to_a_cap_with_bounded_jitter() -> None:
    flat = reconnect_policy(rng=lambda: 0.0)
    assert [flat(n) for n in (1, 2, 3, 6, 7, 50)] == [1, 2, 4, 32, 60, 60]
    top = reconnect_policy(rng=lambda: 1.0)
    assert top(1) == pytest.approx(1.2) and top(50) == pytest.approx(72)


class Scripted(SmscProtocol):
    """Refuses the first ``refuse_binds`` binds and throttles the first ``throttle`` submits;
    fires ``events`` entries so tests can wait on the network without sleeping."""

    refuse_binds = 0
    throttle = 0
    receipt_first = False
    binds: list[defer.Deferred[None]]
    submits_seen = 0

    def _bind(self, pdu: Any) -> None:
        cls = type(self)
        cls.binds.pop(0).callback(None) if cls.binds else None
        if cls.refuse_binds > 0:
            cls.refuse_binds -= 1
            self.sendPdu(response_for(pdu, st.RBINDFAIL))
            return
        super()._bind(pdu)

    def _submit(self, pdu: Any) -> None:
        cls = type(self)
        cls.submits_seen += 1
        if cls.throttle > 0:
            cls.throttle -= 1
            self.sendPdu(response_for(pdu, st.RTHROTTLED))
            return
        if cls.receipt_first:  # receipt for the id the resp will carry, sent before the resp
            self._receipt(pdu.get("destination_addr"), pdu.get("source_addr"), "1000")
            self.factory.submits.append(pdu)
            self.sendPdu(response_for(pdu, message_id="0001000"))
            return
        super()._submit(pdu)


def scripted_smsc(inbox: Inbox, **attrs: Any) -> tuple[Any, type[Scripted]]:
    cls = type("ScriptedRun", (Scripted,), {"binds": [defer.Deferred() for _ in range(2)],
                                            **attrs})
    factory = SmscFactory(inbox)
    factory.protocol = cls
    return reactor.listenTCP(0, factory, interface="127.0.0.1"), cls


class WatchedClock(Clock):
    """A Clock that tells the test when something schedules a call: waiting without polling."""

    def __init__(self) -> None:
        super().__init__()
        self._watch: list[tuple[Callable[[float], bool], defer.Deferred[float]]] = []

    def callLater(self, delay: float, f: Callable[..., object], *a: object, **kw: object) -> Any:
        call = super().callLater(delay, f, *a, **kw)
        for item in list(self._watch):
            if item[0](delay):
                self._watch.remove(item)
                item[1].callback(delay)
        return call

    def scheduled(self, predicate: Callable[[float], bool]) -> defer.Deferred[float]:
        d: defer.Deferred[float] = defer.Deferred()
        self._watch.append((predicate, d))
        return d.addTimeout(10, reactor)


@pytest_twisted.ensureDeferred
async def test_refused_bind_backs_off_on_the_injected_clock() -> None:
    inbox = Inbox()
    listening, cls = scripted_smsc(inbox, refuse_binds=1)
    first, second = cls.binds
    clock = WatchedClock()
    retry_planned = clock.scheduled(lambda delay: 1.0 <= delay <= 1.2)  # 1 s plus jitter
    sender = SmppSender("127.0.0.1", listening.getHost().port, "hotline", "secret", "12580",
                        reactor=reactor, clock=clock)
    sender.startService()
    try:
        sender.send(OutgoingSms(TO, "hello", "h"))
        await first.addTimeout(10, reactor)
        delay = await retry_planned
        assert not second.called and not sender.bound
        clock.advance(delay)
        await second.addTimeout(10, reactor)
        await inbox.wait(1)
        assert inbox.messages == [(TO, "12580", "hello")]
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_throttled_submit_pauses_the_link_then_is_resubmitted() -> None:
    inbox = Inbox()
    listening, cls = scripted_smsc(inbox, throttle=1)
    clock = WatchedClock()
    sender = SmppSender("127.0.0.1", listening.getHost().port, "hotline", "secret", "12580",
                        reactor=reactor, clock=clock)
    pause_planned = clock.scheduled(lambda delay: delay == 1.0)  # first throttle: 1 s pause
    sender.startService()
    try:
        sender.send(OutgoingSms(TO, "hello", "h"))
        await pause_planned
        assert cls.submits_seen == 1 and inbox.messages == []
        clock.advance(1.0)
        await inbox.wait(1)
        assert cls.submits_seen == 2 and inbox.messages == [(TO, "12580", "hello")]
        assert sender._esme is not None and sender._esme.throttled == 1
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_receipt_before_submit_resp_still_reaches_its_key() -> None:
    inbox = Inbox()
    listening, _ = scripted_smsc(inbox, receipt_first=True)
    got: defer.Deferred[tuple[str, str]] = defer.Deferred()
    sender = sender_for(listening.getHost().port,
                        on_receipt=lambda key, r: got.callback((key, r.message_id)))
    try:
        sender.send(OutgoingSms(TO, "hello", "early"))
        assert await got.addTimeout(10, reactor) == ("early", "1000")  # ids normalised
    finally:
        await sender.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_stop_while_smsc_unreachable_returns_and_keeps_messages() -> None:
    listening = start_smsc(reactor, 0, Inbox())
    port = listening.getHost().port
    await listening.stopListening()  # nothing listens there now
    clock = Clock()
    sender = SmppSender("127.0.0.1", port, "hotline", "secret", "12580", reactor=reactor,
                        clock=clock)
    sender.startService()
    sender.send(OutgoingSms(TO, "queued", "q"))
    await sender.stopService()
    assert not sender.bound and len(sender.outbox) == 1
    assert all(not call.active() for call in clock.getDelayedCalls())
