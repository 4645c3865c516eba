"""The framer: split and coalesced PDUs in every chunk size; hostile bytes never crash it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as hs
from sms_support import frames
from twisted.internet.testing import StringTransport

from sms.smpp import status as st
from sms.smpp.framing import MAX_PDU_LENGTH, PduReceiver
from sms.smpp.pdu import Pdu, encode_pdu

STREAM = [
    Pdu("enquire_link", 1),
    Pdu("submit_sm", 2, 0, {"source_addr": "12580", "destination_addr": "8613800138000",
                            "short_message": "预约成功".encode("utf-16-be"), "data_coding": 8}),
    Pdu("unbind_resp", 3),
    Pdu("deliver_sm", 4, 0, {"esm_class": 4, "receipted_message_id": "1a",
                             "short_message": b"id:1a stat:DELIVRD"}),
]
WIRE = b"".join(encode_pdu(p) for p in STREAM)


class Recorder(PduReceiver):
    def __init__(self) -> None:
        self.received: list[Pdu] = []

    def pduReceived(self, pdu: Pdu) -> None:
        self.received.append(pdu)


def connected() -> tuple[Recorder, StringTransport]:
    proto, transport = Recorder(), StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_one_byte_at_a_time() -> None:
    proto, transport = connected()
    for i in range(len(WIRE)):
        proto.dataReceived(WIRE[i : i + 1])
    assert [(p.command, p.seq) for p in proto.received] == [(p.command, p.seq) for p in STREAM]
    assert proto.received[1].params["short_message"] == STREAM[1].params["short_message"]
    assert transport.value() == b""


def test_every_chunk_size() -> None:
    for size in range(1, len(WIRE) + 1):
        proto, _ = connected()
        for i in range(0, len(WIRE), size):
            proto.dataReceived(WIRE[i : i + size])
        assert [p.seq for p in proto.received] == [1, 2, 3, 4], f"chunk size {size}"


def test_coalesced_in_one_read() -> None:
    proto, _ = connected()
    proto.dataReceived(WIRE)
    assert len(proto.received) == 4


def test_partial_pdu_waits_for_the_rest() -> None:
    proto, _ = connected()
    first = encode_pdu(STREAM[1])
    proto.dataReceived(first[:-1])
    assert proto.received == []
    proto.dataReceived(first[-1:])
    assert [p.seq for p in proto.received] == [2]


def test_length_below_header_is_nacked_and_closed() -> None:
    proto, transport = connected()
    proto.dataReceived(bytes.fromhex("0000000f 00000015 00000000 00000007"))
    (nack,) = frames(transport.value())
    assert (nack.command, nack.status, nack.seq) == ("generic_nack", st.RINVCMDLEN, 7)
    assert transport.disconnecting
    proto.dataReceived(encode_pdu(Pdu("enquire_link", 9)))  # ignored after the stream is lost
    assert proto.received == []


def test_length_above_limit_is_nacked_and_closed_before_buffering() -> None:
    proto, transport = connected()
    proto.dataReceived((MAX_PDU_LENGTH + 1).to_bytes(4, "big"))
    (nack,) = frames(transport.value())
    assert (nack.command, nack.status, nack.seq) == ("generic_nack", st.RINVCMDLEN, 0)
    assert transport.disconnecting


def test_good_pdus_before_a_bad_length_are_delivered() -> None:
    proto, transport = connected()
    proto.dataReceived(encode_pdu(STREAM[0]) + b"\xff\xff\xff\xff")
    assert [p.seq for p in proto.received] == [1]
    assert transport.disconnecting


def test_undecodable_frame_is_nacked_and_the_stream_goes_on() -> None:
    proto, transport = connected()
    bad = (16).to_bytes(4, "big") + (0x777).to_bytes(4, "big") + bytes(4) + (5).to_bytes(4, "big")
    proto.dataReceived(bad + encode_pdu(STREAM[0]))
    (nack,) = frames(transport.value())
    assert (nack.command, nack.status, nack.seq) == ("generic_nack", st.RINVCMDID, 5)
    assert [p.seq for p in proto.received] == [1]
    assert not transport.disconnecting


def test_a_bad_generic_nack_is_not_nacked_back() -> None:
    proto, transport = connected()
    nack = encode_pdu(Pdu("generic_nack", 3, 1))
    proto.dataReceived((20).to_bytes(4, "big") + nack[4:] + b"\x00\x00\x00\x00")
    assert transport.value() == b""


def test_handler_exception_does_not_break_framing() -> None:
    class Exploding(Recorder):
        def pduReceived(self, pdu: Pdu) -> None:
            super().pduReceived(pdu)
            if pdu.seq == 1:
                raise RuntimeError("bug")

    proto, transport = Exploding(), StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(WIRE)
    assert [p.seq for p in proto.received] == [1, 2, 3, 4]


@settings(max_examples=300, deadline=None)
@given(hs.binary(max_size=300), hs.integers(min_value=1, max_value=40))
def test_garbage_never_raises(data: bytes, chunk: int) -> None:
    proto, transport = connected()
    for i in range(0, len(data), chunk):
        proto.dataReceived(data[i : i + chunk])
    for pdu in frames(transport.value()):  # whatever we wrote is well-formed generic_nack
        assert pdu.command == "generic_nack" and pdu.status != 0
