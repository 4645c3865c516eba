"""SmppSender against an SMSC built on npm `smpp` 0.5.1: an independent codec judges our bytes."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from node_smsc import require_peer, start_node_smsc
from sms_support import sender_for
from twisted.internet import defer, reactor

from sms.api import OutgoingSms

pytestmark = pytest.mark.peer

TO = "8613800138000"
TCODE = "1234567890"
TCODE_SMS = f"【深圳市第一人民医院】预约成功：内科 11月26日 上午，取号码 {TCODE}。"



@pytest_twisted.ensureDeferred
async def test_chinese_tcode_sms_reaches_peer_exactly_once_and_receipt_returns() -> None:
    node = require_peer()
    peer, port = await start_node_smsc(reactor, node)
    receipts: list[tuple[str, str]] = []
    got: defer.Deferred[None] = defer.Deferred()

    def on_receipt(key: str, receipt: Any) -> None:
        receipts.append((key, receipt.stat))
        if not got.called:
            got.callback(None)

    sender = sender_for(port, on_receipt=on_receipt)
    try:
        sender.send(OutgoingSms(TO, TCODE_SMS, f"booked:{TCODE}"))
        sender.send(OutgoingSms(TO, TCODE_SMS, f"booked:{TCODE}"))  # same key: dropped
        sender.send(OutgoingSms("8613900139000", "sentinel", "sentinel"))
        first = await peer.next(reactor)
        second = await peer.next(reactor)
        assert second["destination_addr"] == "8613900139000"  # nothing else came in between
        assert first["destination_addr"] == TO and first["source_addr"] == "12580"
        assert TCODE in first["text"] and first["text"] == TCODE_SMS
        assert first["data_coding"] == 8 and first["esm_class"] == 0
        assert first["registered_delivery"] == 1
        await got.addTimeout(10, reactor)
        assert receipts[0] == (f"booked:{TCODE}", "DELIVRD")
    finally:
        await sender.stopService()
        await peer.stop()
    to_number = [line for line in peer.lines[1:] if line.get("destination_addr") == TO]
    assert len(to_number) == 1


@pytest_twisted.ensureDeferred
async def test_long_ucs2_message_arrives_as_udh_parts() -> None:
    node = require_peer()
    peer, port = await start_node_smsc(reactor, node)
    sender = sender_for(port)
    text = "复诊提醒：请于就诊当日携带身份证、医保卡与病历本，提前三十分钟到达门诊大厅取号。" * 4
    try:
        sender.send(OutgoingSms(TO, text, "long"))
        parts = [await peer.next(reactor) for _ in range(3)]
    finally:
        await sender.stopService()
        await peer.stop()
    assert len(text) > 134 and len(text) <= 201
    udh = [bytes.fromhex(p["udh"][0]) for p in parts]
    ref = udh[0][2]
    assert udh == [bytes([0x00, 0x03, ref, 3, i]) for i in (1, 2, 3)]
    assert all(p["esm_class"] & 0x40 and p["data_coding"] == 8 for p in parts)
    assert "".join(p["text"] for p in parts) == text
    assert [len(p["text"]) for p in parts] == [67, 67, len(text) - 134]


@pytest_twisted.ensureDeferred
async def test_message_queued_while_peer_is_down_is_delivered_after_restart() -> None:
    node = require_peer()
    peer, port = await start_node_smsc(reactor, node)
    sender = sender_for(port)
    try:
        sender.send(OutgoingSms(TO, "before", "before"))
        assert (await peer.next(reactor))["text"] == "before"
        await peer.stop()
        sender.send(OutgoingSms(TO, TCODE_SMS, "after"))
        peer, _ = await start_node_smsc(reactor, node, port)
        line = await peer.next(reactor)
        assert line["destination_addr"] == TO and TCODE in line["text"]
    finally:
        await sender.stopService()
        await peer.stop()
