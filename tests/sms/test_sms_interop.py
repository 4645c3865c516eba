"""Interop with an SMSC we did not write (npm `smpp`, tests/peers/smsc.js): bind refusal,
throttling, a link cut with a full window, receipts before resp, MO parts, USSD TLVs."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from node_smsc import require_peer, start_node_smsc
from sms_support import sender_for as _sender_for
from twisted.internet import defer, protocol, reactor

from sms.api import OutgoingSms
from sms.esme import EsmeConfig, EsmeProtocol
from sms.flow import Backoff
from sms.redis_outbox import RedisOutbox
from sms.service import SmppSender

pytestmark = pytest.mark.peer
TO = "8613800138000"


def sender_for(port: int, **kw: Any) -> SmppSender:
    return _sender_for(port, throttle_backoff=Backoff(0.05, 0.2), **kw)


class Waiter:
    """Collects callback values; ``wait(n)`` fires once n have arrived."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._waits: list[tuple[int, defer.Deferred[None]]] = []

    def __call__(self, *value: Any) -> None:
        self.items.append(value if len(value) > 1 else value[0])
        for n, d in list(self._waits):
            if len(self.items) >= n:
                self._waits.remove((n, d))
                d.callback(None)

    async def wait(self, n: int, timeout: float = 15) -> list[Any]:
        if len(self.items) < n:
            d: defer.Deferred[None] = defer.Deferred()
            self._waits.append((n, d))
            await d.addTimeout(timeout, reactor)
        return self.items


@pytest_twisted.ensureDeferred
async def test_refused_binds_back_off_then_bind_and_deliver() -> None:
    peer, port = await start_node_smsc(reactor, require_peer(),
                                       args=["--refuse-binds", "2", "--events"])
    sender = sender_for(port)
    try:
        sender.send(OutgoingSms(TO, "after two refusals", "k"))
        await peer.next_matching(reactor, "destination_addr")
        kinds = [next(iter(line)) for line in peer.lines[1:4]]
        assert kinds == ["bind_refused", "bind_refused", "bound"]
    finally:
        await sender.stopService()
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_throttle_and_queue_full_answers_are_resubmitted_until_accepted() -> None:
    peer, port = await start_node_smsc(reactor, require_peer(),
                                       args=["--throttle", "2", "--msgqful", "1"])
    sender = sender_for(port)
    try:
        sender.send(OutgoingSms(TO, "throttled thrice", "k"))
        lines = [await peer.next(reactor) for _ in range(4)]
        assert [line["status"] for line in lines] == [0x58, 0x58, 0x14, 0]
        assert all(line["text"] == "throttled thrice" for line in lines)
        assert sender._esme is not None and sender._esme.throttled == 3
    finally:
        await sender.stopService()
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_link_cut_with_a_full_window_loses_nothing(redis) -> None:
    peer, port = await start_node_smsc(reactor, require_peer(), args=["--drop-after", "5"])
    outbox = RedisOutbox(redis, reactor)
    sender = sender_for(port, window=10, outbox=outbox)
    try:
        for i in range(30):
            sender.send(OutgoingSms(TO, f"msg {i}", f"k{i}"))
        seen: dict[str, int] = {}
        while len(seen) < 30:
            line = await peer.next(reactor)
            seen[line["text"]] = seen.get(line["text"], 0) + 1
        assert set(seen) == {f"msg {i}" for i in range(30)}
        assert sum(seen.values()) - 30 <= 1  # only #5 (resp maybe lost) may repeat
        states = [(await outbox.state(f"k{i}"))["state"] for i in range(30)]
        assert set(states) <= {"sending", "submitted", "delivered"}
    finally:
        await sender.stopService()
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_receipts_before_resp_with_padded_hex_ids_reach_their_message(redis) -> None:
    peer, port = await start_node_smsc(reactor, require_peer(),
                                       args=["--dlr-first", "--hex-ids"])
    outbox = RedisOutbox(redis, reactor)
    receipts = Waiter()
    sender = sender_for(port, outbox=outbox, on_receipt=receipts)
    try:
        for i in range(5):
            sender.send(OutgoingSms(TO, f"early {i}", f"e{i}"))
        got = await receipts.wait(5)
        assert sorted(key for key, _ in got) == [f"e{i}" for i in range(5)]
        lines = [await peer.next(reactor) for _ in range(5)]
        assert lines[0]["message_id"].startswith("00000")  # padded upper-case hex on the wire
        for _ in range(50):  # the last receipt batch is written in the next reactor turn
            states = {(await outbox.state(f"e{i}"))["state"] for i in range(5)}
            if states == {"delivered"}:
                break
        assert states == {"delivered"}
    finally:
        await sender.stopService()
        await peer.stop()


def udh_part(ref: int, total: int, seq: int, text: str) -> str:
    return bytes([5, 0, 3, ref, total, seq]).hex() + text.encode("utf-16-be").hex()


@pytest_twisted.ensureDeferred
async def test_mo_parts_in_any_order_from_two_senders_and_every_coding() -> None:
    peer, port = await start_node_smsc(reactor, require_peer(), args=["--events"])
    mo = Waiter()
    sender = sender_for(port, on_message=mo)
    try:
        sender.send(OutgoingSms(TO, "bind first", "b"))
        await peer.next_matching(reactor, "destination_addr")
        a, b = "13800000001", "13800000002"
        parts = [(a, 3, "取消"), (b, 1, "查询"), (a, 1, "QX "), (b, 2, "我的预约"),
                 (a, 2, "1234567890")]
        for source, seq, text in parts:  # same reference 7 from both senders
            total = 3 if source == a else 2
            peer.command(deliver={"source_addr": source, "destination_addr": "12580",
                                  "esm_class": 0x40, "data_coding": 8,
                                  "short_message_hex": udh_part(7, total, seq, text)})
        for dc, raw in ((0, b"cx".hex()), (1, b"QX 1".hex()),
                        (3, "caf\u00e9".encode("latin-1").hex())):
            peer.command(deliver={"source_addr": "13900000009", "destination_addr": "12580",
                                  "data_coding": dc, "short_message_hex": raw})
        got = await mo.wait(5)
        assert {(src, text) for _, src, text in got} == {
            (b, "查询我的预约"), (a, "QX 1234567890取消"),  # reassembled per sender
            ("13900000009", "cx"), ("13900000009", "QX 1"), ("13900000009", "café")}
        acks = [(await peer.next_matching(reactor, "deliver_sm_resp"))["deliver_sm_resp"]
                for _ in range(8)]
        assert acks == [0] * 8  # every deliver_sm acknowledged ROK
    finally:
        await sender.stopService()
        await peer.stop()


@pytest_twisted.ensureDeferred
async def test_ussd_tlvs_from_the_peer_are_decoded() -> None:
    peer, port = await start_node_smsc(reactor, require_peer(), args=["--events"])
    delivered = Waiter()
    esme = EsmeProtocol(EsmeConfig("hotline", "secret"), reactor,
                        on_deliver=lambda pdu, decoded: delivered(pdu, decoded.text))
    creator = protocol.ClientCreator(reactor, lambda: esme)
    await creator.connectTCP("127.0.0.1", port)
    try:
        await esme.bind()
        await peer.next_matching(reactor, "bound")
        peer.command(deliver={"source_addr": TO, "destination_addr": "12580",
                              "ussd_service_op": 1, "its_session_info_hex": "2a00",
                              "short_message": "*12580#"})
        ((pdu, text),) = await delivered.wait(1)
        assert pdu.get("ussd_service_op") == 1 and pdu.get("its_session_info") == b"\x2a\x00"
        assert text == "*12580#" and pdu.get("source_addr") == TO
    finally:
        await esme.unbind()
        await peer.stop()
