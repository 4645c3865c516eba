"""The PDU codec: round trips, the TLVs smpp.pdu3 lacks, and clear errors for bad bytes."""

from __future__ import annotations

import io
import struct

import pytest
from smpp.pdu.error import PDUParseError
from smpp.pdu.pdu_encoding import PDUEncoder

from sms.smpp import status as st
from sms.smpp.pdu import Pdu, PduError, decode_pdu, encode_pdu, response_for

ROUND_TRIPS = [
    Pdu("bind_transceiver", 1, 0, {"system_id": "hotline", "password": "secret",
                                   "system_type": "OTA", "interface_version": 0x34,
                                   "addr_ton": 0, "addr_npi": 0, "address_range": ""}),
    Pdu("bind_transceiver_resp", 1, 0, {"system_id": "SMSC"}),
    Pdu("bind_transceiver_resp", 1, st.RINVPASWD, {}),
    Pdu("submit_sm_resp", 7, 0, {"message_id": "4a1"}),
    Pdu("submit_sm_resp", 7, st.RTHROTTLED, {}),
    Pdu("deliver_sm_resp", 9, 0, {"message_id": None}),
    Pdu("enquire_link", 0x7FFFFFFF, 0, {}),
    Pdu("enquire_link_resp", 3, 0, {}),
    Pdu("unbind", 4, 0, {}),
    Pdu("unbind_resp", 4, 0, {}),
    Pdu("generic_nack", 0, st.RINVCMDLEN, {}),
    Pdu("generic_nack", 12, 0x0456, {}),  # vendor-specific status survives
]


@pytest.mark.parametrize("pdu", ROUND_TRIPS, ids=lambda p: f"{p.command}-{p.status}")
def test_round_trip(pdu: Pdu) -> None:
    assert decode_pdu(encode_pdu(pdu)) == pdu


def test_submit_sm_fields_and_ussd_tlvs_round_trip() -> None:
    pdu = Pdu("submit_sm", 5, 0, {
        "source_addr": "12580", "destination_addr": "8613800138000", "esm_class": 0x40,
        "data_coding": 8, "registered_delivery": 1, "short_message": b"\x05\x00\x03\x01\x02\x01",
        "ussd_service_op": 2, "its_session_info": b"\x2a\x01",
    })
    back = decode_pdu(encode_pdu(pdu))
    assert back.params["ussd_service_op"] == 2
    assert back.params["its_session_info"] == b"\x2a\x01"
    assert back.params["esm_class"] == 0x40 and back.params["data_coding"] == 8
    assert back.params["short_message"] == pdu.params["short_message"]
    assert {k: back.params[k] for k in pdu.params} == pdu.params


def test_ussd_tlv_wire_bytes() -> None:
    data = encode_pdu(Pdu("deliver_sm", 2, 0, {"ussd_service_op": 1,
                                                 "its_session_info": b"\x2a\x00"}))
    assert data.endswith(bytes.fromhex("0501 0001 01 1383 0002 2a00"))
    assert struct.unpack(">I", data[:4])[0] == len(data)


def test_smpp_pdu3_alone_rejects_ussd_tlvs() -> None:
    """Why we own the TLV layer: the library fails on a USSD deliver_sm we decode fine."""
    data = encode_pdu(Pdu("deliver_sm", 2, 0, {"ussd_service_op": 1}))
    with pytest.raises(PDUParseError):
        PDUEncoder().decode(io.BytesIO(data))
    assert decode_pdu(data).params["ussd_service_op"] == 1


def test_unknown_tlv_is_kept_not_fatal() -> None:
    data = encode_pdu(Pdu("deliver_sm", 2, 0, {"short_message": b"x"})) + b"\x14\x01\x00\x02ab"
    data = struct.pack(">I", len(data)) + data[4:]
    pdu = decode_pdu(data)
    assert pdu.params["tlv_1401"] == b"ab"
    assert encode_pdu(pdu) == data


def test_receipt_tlvs_decode_to_plain_values() -> None:
    pdu = decode_pdu(encode_pdu(Pdu("deliver_sm", 3, 0, {
        "esm_class": 4, "receipted_message_id": "4A1", "message_state": 2,
        "short_message": b"id:4A1 stat:DELIVRD"})))
    assert pdu.params["receipted_message_id"] == "4A1"
    assert pdu.params["message_state"] == 2


def test_response_for_echoes_seq_and_sets_response_bit() -> None:
    resp = response_for(Pdu("submit_sm", 77), message_id="1")
    assert (resp.command, resp.seq, resp.command_id) == ("submit_sm_resp", 77, 0x80000004)
    with pytest.raises(ValueError):
        response_for(Pdu("generic_nack", 1))


def _header(length: int, command_id: int, seq: int = 9, status: int = 0) -> bytes:
    return struct.pack(">IIII", length, command_id, status, seq)


BAD = [
    ("short", b"\x00\x00\x00\x10\x00", st.RINVCMDLEN),
    ("length-mismatch", _header(20, 0x15), st.RINVCMDLEN),
    ("unknown-command", _header(16, 0x0000_0777), st.RINVCMDID),
    ("body-missing", _header(16, 0x04), st.RINVMSGLEN),
    ("truncated-tlv", _header(16, 0x80000015) + b"\x05\x01\x00", st.RINVOPTPARSTREAM),
    ("tlv-overrun", _header(16, 0x80000015) + b"\x05\x01\x00\x09\x01", st.RINVOPTPARSTREAM),
    ("tlv-bad-width", _header(16, 0x80000015) + b"\x05\x01\x00\x02\x01\x02", st.RINVPARLEN),
    ("cstring-unterminated", _header(16, 0x09) + b"x" * 20, None),
]


@pytest.mark.parametrize(("name", "data", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_bytes_raise_pdu_error_with_status(name: str, data: bytes, status: int | None) -> None:
    if len(data) >= 16:
        data = struct.pack(">I", len(data)) + data[4:] if name != "length-mismatch" else data
    with pytest.raises(PduError) as info:
        decode_pdu(data)
    if status is not None:
        assert info.value.status == status
    else:
        assert info.value.status != 0
    if len(data) >= 16:
        assert info.value.seq == 9


def test_encode_rejects_unknown_parameter() -> None:
    with pytest.raises(ValueError, match="unknown parameter"):
        encode_pdu(Pdu("submit_sm", 1, 0, {"colour": 3}))
    with pytest.raises(ValueError, match="2 octets"):
        encode_pdu(Pdu("submit_sm", 1, 0, {"its_session_info": b"\x01"}))


def test_sequence_number_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_pdu(Pdu("enquire_link", 0))
    with pytest.raises(ValueError, match="out of range"):
        encode_pdu(Pdu("submit_sm", 1 << 32))
    assert decode_pdu(encode_pdu(Pdu("enquire_link_resp", 0))).seq == 0  # echo a peer's 0


def test_fast_sm_decoding_matches_the_general_decoder() -> None:
    """deliver_sm/submit_sm take a slicing fast path; it must agree with the general one."""
    from sms.smpp.pdu import _decode_body, _decode_sm

    samples = [
        Pdu("deliver_sm", 5, 0, {"source_addr": "8613800138000", "destination_addr": "12580",
                                 "esm_class": 4, "short_message": b"id:1 stat:DELIVRD",
                                 "receipted_message_id": "4a1", "message_state": 2,
                                 "ussd_service_op": 1, "its_session_info": b"\x2a\x00",
                                 "tlv_1400": b"xy"}),
        Pdu("submit_sm", 7, 0, {"service_type": "CMT", "source_addr": "12580",
                                "destination_addr": "8613800138000", "data_coding": 8,
                                "short_message": "取号码".encode("utf-16-be"),
                                "validity_period": "000001000000000R"}),
    ]
    for pdu in samples:
        data = encode_pdu(pdu)
        slow = _decode_body(pdu.command, 0, io.BytesIO(data[16:]), len(data) - 16)
        assert _decode_sm(data) == slow
        assert decode_pdu(data).params == slow
    assert _decode_sm(encode_pdu(samples[0])[:-3]) is None  # truncated TLV: general path
