"""CmppSender over real TCP against the loopback ISMG, with the durable outbox in a real Redis:
receipts close outbox entries, MO reaches the handler, faults retry, reconnect or dead-letter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest_twisted
from twisted.internet import reactor, task

from sms.api import OutgoingSms
from sms.cmpp.client import CmppConfig
from sms.cmpp.codec import Submit
from sms.cmpp.ismg import IsmgFactory, start_ismg
from sms.cmpp.service import CmppSender
from sms.redis_outbox import RedisOutbox

TO = "13800138000"
SP, SECRET = "901234", "s3cret"
TCODE_SMS = "【深圳市第一人民医院】预约成功：内科 11月26日 上午，取号码 1234567890。"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    def __call__(self, to: str, source: str, text: str) -> None:
        self.messages.append((to, source, text))


async def until(predicate: Callable[[], Any], what: str, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


def ismg(inbox: Inbox, **kw: Any) -> Any:
    return start_ismg(reactor, 0, inbox, sp_id=SP, secret=SECRET, service_id="HLYY", **kw)


def sender(port: int, outbox: Any = None, secret: str = SECRET, **config: Any) -> CmppSender:
    s = CmppSender("127.0.0.1", port, CmppConfig(SP, secret, service_id="HLYY",
                                                 src_id="1065812580", **config),
                   reactor=reactor, outbox=outbox, retry_policy=lambda n: 0.05)
    s.pump.retry_delay = 0.05
    s.startService()
    return s


async def states(outbox: RedisOutbox, keys: list[str]) -> list[str]:
    return [(await outbox.state(k)).get("state", "") for k in keys]


@pytest_twisted.ensureDeferred
async def test_a_tcode_sms_goes_once_and_its_report_closes_the_outbox_entry(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    factory: IsmgFactory = listening.factory
    outbox = RedisOutbox(redis, reactor)
    receipts: list[tuple[str, str]] = []
    s = sender(listening.getHost().port, outbox)
    s.on_receipt = lambda key, r: receipts.append((key, r.stat))
    try:
        await s.send(OutgoingSms(TO, TCODE_SMS, "booked:1234567890"))
        await s.send(OutgoingSms(TO, TCODE_SMS, "booked:1234567890"))  # same key: dropped
        await until(lambda: receipts, "the status report")
        await until(lambda: outbox._settles.items == [], "the receipt write")
        state = await outbox.state("booked:1234567890")
        assert inbox.messages == [(TO, "1065812580", TCODE_SMS)]
        assert receipts == [("booked:1234567890", "DELIVRD")]
        assert state["state"] == "delivered"
        (submit,) = factory.submits
        assert (submit.msg_fmt, submit.registered_delivery, submit.service_id, submit.src_id,
                submit.msg_src, submit.dest_terminal_ids) == (8, 1, "HLYY", "1065812580", SP,
                                                              (TO,))
        assert state["ids"].isdigit() and int(state["ids"]) > 2**60  # the 8-octet Msg_Id
        assert factory.violations == []
    finally:
        await s.stopService()
        await listening.stopListening()
    assert factory.terminates == 1  # CMPP_TERMINATE on shutdown


@pytest_twisted.ensureDeferred
async def test_a_long_message_goes_in_udh_parts_and_arrives_whole(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    outbox = RedisOutbox(redis, reactor)
    s = sender(listening.getHost().port, outbox)
    text = "复诊提醒：请携带身份证与病历本。" * 10  # 160 characters: 3 parts of <= 67
    try:
        await s.send(OutgoingSms(TO, text, "reminder:1"))
        await until(lambda: inbox.messages, "the whole message")
        await until(lambda: outbox._settles.items == [], "the receipt writes")
        await until(lambda: len(listening.factory.submits) == 3, "three submits")
        assert inbox.messages == [(TO, "1065812580", text)]
        assert [(p.pk_total, p.pk_number, p.tp_udhi) for p in listening.factory.submits] == [
            (3, 1, 1), (3, 2, 1), (3, 3, 1)]
        state = await outbox.state("reminder:1")
        for _ in range(100):
            if state["state"] == "delivered":
                break
            await task.deferLater(reactor, 0.02, lambda: None)
            state = await outbox.state("reminder:1")
        assert state["state"] == "delivered" and len(state["ids"].split(",")) == 3
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_report_that_beats_its_submit_resp_is_still_matched(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    listening.factory.report_first = True
    outbox = RedisOutbox(redis, reactor)
    receipts: list[str] = []
    s = sender(listening.getHost().port, outbox)
    s.on_receipt = lambda key, r: receipts.append(key)
    keys = [f"k{i}" for i in range(20)]
    try:
        for k in keys:
            s.send(OutgoingSms(TO, f"msg {k}", k))
        await until(lambda: len(receipts) == 20, "20 early reports matched")
        for _ in range(100):
            if await states(outbox, keys) == ["delivered"] * 20:
                break
            await task.deferLater(reactor, 0.02, lambda: None)
        assert await states(outbox, keys) == ["delivered"] * 20
        assert sorted(receipts) == sorted(keys)
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_mo_messages_reach_the_handler_whole() -> None:
    listening = ismg(Inbox())
    got: list[tuple[str, str, str]] = []
    s = sender(listening.getHost().port)
    s.on_message = lambda to, source, text: got.append((to, source, text))
    long_mo = "实名" + "我的身份证号码是四四零三零五" * 6
    try:
        await until(lambda: s.bound, "connect")
        assert listening.factory.deliver_mo(TO, "1065812580", "QX 1234567890") == 1
        listening.factory.deliver_mo(TO, "1065812580", long_mo, ref=7)
        await until(lambda: len(got) == 2, "two MO messages")
        assert got == [("1065812580", TO, "QX 1234567890"), ("1065812580", TO, long_mo)]
        await until(lambda: all(not p.unanswered for p in listening.factory.connections),
                    "every DELIVER answered")
        assert listening.factory.violations == []
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_refused_result_is_dead_lettered_and_the_rest_goes_on(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    listening.factory.verdict = lambda submit: 13 if submit.msg_content == b"bad" else 0
    outbox = RedisOutbox(redis, reactor)
    s = sender(listening.getHost().port, outbox)
    try:
        await s.send(OutgoingSms(TO, "bad", "k-bad"))
        await s.send(OutgoingSms(TO, "good", "k-good"))
        await until(lambda: len(inbox.messages) == 1, "the good one")
        for _ in range(100):
            if (await outbox.counts())["dead"] == 1:
                break
            await task.deferLater(reactor, 0.02, lambda: None)
        (dead,) = await outbox.dead_letters()
        assert dead["key"] == "k-bad" and "bad Dest_terminal_Id" in dead["reason"]
        assert len(listening.factory.submits) == 2  # a dead result is not sent again
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_flow_control_then_acceptance(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    answers = iter([8, 0])
    listening.factory.verdict = lambda submit: next(answers)
    s = sender(listening.getHost().port, RedisOutbox(redis, reactor))
    try:
        await s.send(OutgoingSms(TO, "paced", "k1"))
        await until(lambda: inbox.messages, "the resubmission", limit=5)
        assert len(listening.factory.submits) == 2 and s._esme.throttled == 1
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_lost_submit_resp_and_a_crash_give_one_duplicate_and_nothing_lost(redis) -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    factory: IsmgFactory = listening.factory
    lost = {"m3"}

    def verdict(submit: Submit) -> int | None:
        text = submit.msg_content.decode()
        if text in lost:
            lost.discard(text)
            factory.drop_all()  # the ISMG took it, then died before answering
            return None
        return 0

    factory.verdict = verdict
    outbox = RedisOutbox(redis, reactor)
    s = sender(listening.getHost().port, outbox, window=1)
    try:
        for i in range(6):
            await s.send(OutgoingSms(TO, f"m{i}", f"k{i}"))
        await until(lambda: {m[2] for m in inbox.messages} == {f"m{i}" for i in range(6)},
                    "all six")
        await until(lambda: s.bound, "reconnected")
        texts = [m[2] for m in inbox.messages]
        assert texts.count("m3") == 2 and len(texts) == 7
        assert factory.connects == [0, 0]
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_wrong_secret_never_connects_and_backs_off() -> None:
    listening = ismg(Inbox())
    s = sender(listening.getHost().port, secret="wrong")
    try:
        await until(lambda: len(listening.factory.connects) >= 2, "two attempts")
        assert set(listening.factory.connects) == {3} and not s.bound
        assert s.refusal == "bad_authenticator" and s._keeper.failures >= 2
    finally:
        await s.stopService()
        await listening.stopListening()


@pytest_twisted.ensureDeferred
async def test_the_sender_reconnects_after_the_ismg_drops_it() -> None:
    inbox = Inbox()
    listening = ismg(inbox)
    s = sender(listening.getHost().port)
    try:
        await until(lambda: s.bound, "connect")
        listening.factory.drop_all()
        await until(lambda: not s.bound, "the drop")
        await s.send(OutgoingSms(TO, "after the drop", "k1"))
        await until(lambda: inbox.messages, "the message after reconnecting")
        assert listening.factory.connects == [0, 0]
    finally:
        await s.stopService()
        await listening.stopListening()
