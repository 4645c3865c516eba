"""USSD over SMPP against an USSD centre we did not write (npm `smpp`): a whole booking through
the shipped menu and the real booking store, a user abort, a network timeout, op-code settings."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from ussd_harness import CountingDialogue
from ussdc_peer import NodeUssdc, start_node_ussdc

from booking.catalog import parse_catalog
from booking.idcard import check_char, is_valid_resident_id
from booking.testing import MemoryBookingService
from dialogue.effects import make_effect_runner
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue
from ussd.gateway import HopEvent, UssdGateway
from ussd.sessions import UssdSessionStore
from ussd.smpp import (
    UssdOpCodes,
    UssdSmppService,
    encode_screen,
    reply_session_info,
    session_info,
)

MENU = Path(__file__).resolve().parents[2] / "config" / "menus" / "booking.yaml"
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
MSISDN = "8613800138000"
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
CATALOG = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
  remote_share: 1.0
sessions:
  am: {label: {zh: 上午, en: morning}, places: 50}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
"""


class Rig:
    def __init__(self, peer: NodeUssdc, service: UssdSmppService, clock: Clock,
                 events: list[HopEvent]) -> None:
        self.peer, self.service, self.clock, self.events = peer, service, clock, events

    def mo(self, op: int, text: str = "", info: str = "2a00", coding: int = 0) -> None:
        fields: dict[str, Any] = {"source_addr": MSISDN, "destination_addr": "125",
                                  "ussd_service_op": op, "short_message": text,
                                  "its_session_info_hex": info}
        if coding:
            fields["data_coding"] = coding
        self.peer.mo(**fields)

    async def screen(self) -> dict[str, Any]:
        return await self.peer.next("submit", reactor)


async def rig(redis: Any, dialogue: Any, **kw: Any) -> Rig:
    peer = await start_node_ussdc(reactor, "--system-id", "hlussd", "--password", "pw")
    clock = Clock()
    clock.advance(NOW.timestamp())
    events: list[HopEvent] = []
    gateway = UssdGateway(dialogue, UssdSessionStore(redis), "booking", gateway="smpp",
                          clock=clock, on_hop=events.append)
    port = await peer.listening
    service = UssdSmppService(gateway, "127.0.0.1", port, "hlussd", "pw", reactor=reactor,
                              clock=clock, **kw)
    service.startService()
    await service.bound_once
    assert await peer.next("bound", reactor) == "hlussd"
    return Rig(peer, service, clock, events)


async def stop(r: Rig) -> None:
    await r.service.stopService()
    await r.peer.stop()


def resident_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + check_char(first17)


@pytest_twisted.ensureDeferred
async def test_a_whole_booking_over_smpp_ends_with_the_end_bit(redis) -> None:
    booking_clock = Clock()
    booking_clock.advance(NOW.timestamp())
    booking = MemoryBookingService(parse_catalog(CATALOG, "t.yaml"), booking_clock)
    dialogue = Dialogue(MenuSource([load_menu(MENU)]), make_effect_runner(booking),
                        {"resident_id": is_valid_resident_id})
    r = await rig(redis, dialogue)
    try:
        id_number = resident_id(2)
        r.mo(1, "*125#", info="2a00")
        first = await r.screen()
        assert first["text"].startswith("欢迎使用12580预约挂号")
        assert first["ussd_service_op"] == 2 and first["its_session_info_hex"] == "2a00"
        assert first["destination_addr"] == MSISDN and first["source_addr"] == "125"
        assert first["data_coding"] == 8  # Chinese: UCS2
        screens, seq = [], 0
        while not screens or screens[-1]["ussd_service_op"] == 2:
            seq += 1
            assert seq < 12, screens
            shown = (screens[-1] if screens else first)["text"]
            answer = id_number.replace("X", "*") if "身份证号码" in shown else "1"
            r.mo(18, answer, info=f"2a{seq * 2:02x}")
            screens.append(await r.screen())
        assert {s["ussd_service_op"] for s in screens[:-1]} == {2}
        last = screens[-1]
        assert last["ussd_service_op"] == 17
        assert last["text"].startswith("预约成功") and len(TCODE.findall(last["text"])) == 1
        assert last["its_session_info_hex"] == f"2a{seq * 2 + 1:02x}"  # the end bit is set
        assert await booking.remote_left("nk", dt.date(2026, 11, 26), "am") == 49
        assert await r.peer.next("deliver_sm_resp", reactor) == 0
        assert r.service.open_dialogues == 0
        assert [e.outcome for e in r.events] == ["new"] + ["step"] * seq
        assert {e.msisdn for e in r.events} == {"*********8000"}
    finally:
        await stop(r)


@pytest_twisted.ensureDeferred
async def test_user_abort_ends_the_dialogue_and_a_redial_may_resume(redis) -> None:
    dialogue = CountingDialogue()
    r = await rig(redis, dialogue)
    try:
        r.mo(1, "*125#", info="0700")
        await r.screen()
        r.mo(18, "1", info="0702")
        second = await r.screen()
        assert second["text"] == "请输入身份证号", (second, r.events)
        r.mo(0x81, "", info="0704")  # the user pressed cancel
        await r.peer.next("deliver_sm_resp", reactor)
        while r.service.open_dialogues:  # the abort is handled after the deliver_sm_resp
            await r.peer.next("deliver_sm_resp", reactor, 0.2).addErrback(lambda _: None)
        assert r.events[-1].outcome == "abort"
        # dialling again within 10 minutes offers to continue where the caller left off
        r.mo(1, "*125#", info="0800")
        offer = await r.screen()
        assert offer["text"].startswith("您上次的预约尚未完成") and offer["ussd_service_op"] == 2
        r.mo(18, "1", info="0802")
        assert (await r.screen())["text"] == "请输入身份证号"
        assert dialogue.begins == 1 and dialogue.resumes == ["1"]
    finally:
        await stop(r)


@pytest_twisted.ensureDeferred
async def test_network_timeout_ends_the_dialogue_and_late_input_is_told_it_expired(
    redis,
) -> None:
    dialogue = CountingDialogue()
    r = await rig(redis, dialogue, timeout_s=180)
    try:
        r.mo(1, "*125#", info="0100")
        await r.screen()
        r.clock.advance(179)
        r.mo(18, "1", info="0102")
        await r.screen()  # within the sliding timeout: answered
        r.clock.advance(181)
        assert r.service.open_dialogues == 0 and r.events[-1].outcome == "timeout"
        r.mo(18, "2", info="0104")
        late = await r.screen()
        assert late["text"] == "会话已过期，请重新拨号。" and late["ussd_service_op"] == 17
        assert late["its_session_info_hex"] == "0105"
        assert dialogue.resumes == ["1"]
    finally:
        await stop(r)


@pytest_twisted.ensureDeferred
async def test_vendor_op_codes_come_from_settings(redis) -> None:
    ops = UssdOpCodes.from_settings({"new": [0x20], "cont": 0x21, "reply_continue": 0x22,
                                     "reply_end": 0x23})
    r = await rig(redis, CountingDialogue(), ops=ops)
    try:
        r.mo(0x20, "*125#", info="0300")
        first = await r.screen()
        assert first["ussd_service_op"] == 0x22
        r.mo(0x21, "1", info="0302")
        r.mo(0x21, "110105194912310021", info="0304")
        await r.screen()
        assert (await r.screen())["ussd_service_op"] == 0x23
    finally:
        await stop(r)


def test_session_info_and_coding_helpers() -> None:
    assert session_info(bytes([0x2A, 0x05])) == (0x2A, 2)
    assert session_info(None) == (None, 0)
    assert reply_session_info(bytes([0x2A, 0x04]), True) == bytes([0x2A, 0x05])
    assert reply_session_info(bytes([0x2A, 0x05]), False) == bytes([0x2A, 0x04])
    assert encode_screen("1. Book") == (0, b"1. Book")
    assert encode_screen("内科") == (8, "内科".encode("utf-16-be"))
    with pytest.raises(ValueError):
        UssdOpCodes.from_settings({"nwe": 1})
    with pytest.raises(ValueError):
        UssdOpCodes.from_settings({"new": 300})


@pytest_twisted.ensureDeferred
async def test_stop_while_the_ussdc_has_not_answered_the_bind_is_quiet(
    redis: Any, logged_errors: list[Any]
) -> None:
    """SIGTERM can land mid-bind; the stop must close the link without a logged error."""
    from twisted.internet import defer, protocol

    binds: defer.Deferred[bytes] = defer.Deferred()
    closed: defer.Deferred[None] = defer.Deferred()
    silent = protocol.Factory.forProtocol(type("Silent", (protocol.Protocol,), {
        "dataReceived": lambda self, data: None if binds.called else binds.callback(data),
        "connectionLost": lambda self, reason: closed.callback(None),
    }))  # reads the bind, never answers it
    listening = reactor.listenTCP(0, silent, interface="127.0.0.1")
    gateway = UssdGateway(CountingDialogue(), UssdSessionStore(redis), "booking", gateway="smpp",
                          clock=Clock())
    service = UssdSmppService(gateway, "127.0.0.1", listening.getHost().port, "hlussd", "pw",
                              reactor=reactor, clock=Clock())
    try:
        service.startService()
        await binds.addTimeout(10, reactor)
        assert not service.bound
        await service.stopService()
        await closed.addTimeout(5, reactor)  # the stop closed the half-bound link
    finally:
        await listening.stopListening()
    assert logged_errors == [] and not service.bound_once.called
