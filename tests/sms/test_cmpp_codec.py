"""CMPP 2.0 frames byte for byte, written out from the specification's layouts (section 7.4),
field by field, and what the codec does with frames that are not right."""

from __future__ import annotations

import hashlib

import pytest

from sms.cmpp import codec
from sms.cmpp.codec import (
    ActiveTest,
    ActiveTestResp,
    Cancel,
    CancelResp,
    CodecError,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    Query,
    QueryResp,
    StatusReport,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
)


def h(*pieces: str) -> bytes:
    return bytes.fromhex("".join(pieces))


def nul(n: int) -> str:
    return "00" * n


AUTH = "000102030405060708090a0b0c0d0e0f"
# Msg_Id of 12-05 13:45:30, gateway 0x12580, sequence 7, by hand from the bit layout:
# 1100 00101 01101 101101 011110 | 0000010010010110000000 | 0000000000000111
MSG_ID = 0xC2B6D78125800007
MSG_ID_HEX = "c2b6d78125800007"
SP, PHONE, SRC = "393031323334", "3133383030313338303030", "31303635383132353830"  # ASCII

GOLDEN: list[tuple[str, codec.Pdu, int, bytes]] = [
    ("CONNECT", Connect("901234", bytes(range(16)), 0x20, 1205055634), 1, h(
        "00000027", "00000001", "00000001",  # Total_Length 39, CMPP_CONNECT, Sequence_Id
        SP, AUTH, "20",  # Source_Addr, AuthenticatorSource, Version 2.0
        "47d3b092")),  # Timestamp 1205055634 (MMDDHHMMSS as an integer)
    ("CONNECT_RESP", ConnectResp(0, bytes(range(16)), 0x20), 1, h(
        "0000001e", "80000001", "00000001", "00", AUTH, "20")),  # 30 octets in 2.0
    ("TERMINATE", Terminate(), 9, h("0000000c", "00000002", "00000009")),
    ("TERMINATE_RESP", TerminateResp(), 9, h("0000000c", "80000002", "00000009")),
    ("SUBMIT", Submit(("13800138000",), "预约".encode("utf-16-be"), msg_fmt=8,
                      registered_delivery=1, service_id="HLYY", msg_src="901234",
                      src_id="1065812580"), 2, h(
        "000000a3", "00000004", "00000002",  # 163 octets
        nul(8),  # Msg_Id: empty, the ISMG assigns it
        "01", "01", "01", "00",  # Pk_total, Pk_number, Registered_Delivery, Msg_level
        "484c5959", nul(6),  # Service_Id "HLYY"
        "02", nul(21),  # Fee_UserType 2 (the SP pays), Fee_terminal_Id empty
        "00", "00", "08",  # TP_pId, TP_udhi, Msg_Fmt 8 (UCS2)
        SP, "3031", "303030303030",  # Msg_src, FeeType "01" (free), FeeCode "000000"
        nul(17), nul(17),  # ValId_Time, At_Time
        SRC, nul(11),  # Src_Id "1065812580"
        "01", PHONE, nul(10),  # DestUsr_tl 1, Dest_terminal_Id
        "04", "98847ea6",  # Msg_Length, Msg_Content "预约"
        nul(8))),  # Reserve
    ("SUBMIT_RESP", SubmitResp(MSG_ID, 0), 2, h(
        "00000015", "80000004", "00000002", MSG_ID_HEX, "00")),  # 21 octets
    ("DELIVER (MO)", Deliver(MSG_ID, dest_id="1065812580", src_terminal_id="13800138000",
                             msg_content=b"QX 1234567890", service_id="HLYY"), 3, h(
        "00000062", "00000005", "00000003",  # 98 octets
        MSG_ID_HEX, SRC, nul(11), "484c5959", nul(6),  # Msg_Id, Dest_Id, Service_Id
        "00", "00", "00",  # TP_pid, TP_udhi, Msg_Fmt 0 (ASCII)
        PHONE, nul(10), "00",  # Src_terminal_Id, Registered_Delivery 0: a patient's text
        "0d", "51582031323334353637383930", nul(8))),  # Msg_Length 13, "QX 1234567890"
    ("DELIVER_RESP", DeliverResp(MSG_ID, 0), 3, h(
        "00000015", "80000005", "00000003", MSG_ID_HEX, "00")),
    ("QUERY", Query("20261205", 1, "HLYY"), 4, h(
        "00000027", "00000006", "00000004", "3230323631323035", "01", "484c5959", nul(6),
        nul(8))),
    ("QUERY_RESP", QueryResp("20261205", 1, "HLYY", 5, 4, 3, 2, 1, 9, 8, 7), 4, h(
        "0000003f", "80000006", "00000004", "3230323631323035", "01", "484c5959", nul(6),
        "00000005", "00000004", "00000003", "00000002", "00000001",  # MT counts
        "00000009", "00000008", "00000007")),  # MO counts
    ("CANCEL", Cancel(MSG_ID), 5, h("00000014", "00000007", "00000005", MSG_ID_HEX)),
    ("CANCEL_RESP", CancelResp(0), 5, h("0000000d", "80000007", "00000005", "00")),
    ("ACTIVE_TEST", ActiveTest(), 6, h("0000000c", "00000008", "00000006")),
    ("ACTIVE_TEST_RESP", ActiveTestResp(), 6, h("0000000d", "80000008", "00000006", "00")),
]
REPORT = h(MSG_ID_HEX, "44454c49565244",  # Msg_Id of the SUBMIT, Stat "DELIVRD"
           "32363132303531333435", "32363132303531333436",  # Submit_time, Done_time
           PHONE, nul(10), "00000001")  # Dest_terminal_Id, SMSC_sequence (4 octets)


@pytest.mark.parametrize(("name", "pdu", "seq", "frame"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_every_pdu_encodes_to_the_specified_bytes_and_back(name, pdu, seq, frame) -> None:
    assert codec.encode(seq, pdu) == frame
    assert codec.decode(frame) == (seq, pdu)


def test_a_status_report_is_sixty_octets_inside_a_deliver() -> None:
    report = StatusReport(MSG_ID, "DELIVRD", "2612051345", "2612051346", "13800138000", 1)
    assert len(REPORT) == 60
    assert codec.encode_report(report) == REPORT
    assert codec.decode_report(REPORT) == report
    deliver = Deliver(MSG_ID + 1, dest_id="1065812580", src_terminal_id="13800138000",
                      msg_content=REPORT, registered_delivery=1)
    frame = codec.encode(7, deliver)
    assert len(frame) == 12 + 73 + 60
    assert frame[12 + 63] == 1 and frame[12 + 64] == 60  # Registered_Delivery, Msg_Length
    assert codec.decode(frame) == (7, deliver)


def test_a_report_of_another_length_is_refused() -> None:
    with pytest.raises(CodecError, match="60 octets"):
        codec.decode_report(REPORT + b"\0\0\0\0")  # SMSC_sequence as 8 octets (not 2.0)


def test_msg_id_bit_layout() -> None:
    assert codec.make_msg_id(12, 5, 13, 45, 30, 0x12580, 7) == MSG_ID
    assert codec.split_msg_id(MSG_ID) == {"month": 12, "day": 5, "hour": 13, "minute": 45,
                                          "second": 30, "gateway": 0x12580, "sequence": 7}
    with pytest.raises(CodecError, match="gateway"):
        codec.make_msg_id(1, 1, 0, 0, 0, 1 << 22, 0)


def test_authenticators_follow_the_specified_concatenation() -> None:
    source = codec.authenticator_source("901234", "s3cret", "1205055634")
    assert source == hashlib.md5(b"901234" + bytes(9) + b"s3cret" + b"1205055634").digest()
    assert codec.authenticator_ismg(0, source, "s3cret") == hashlib.md5(
        b"\x00" + source + b"s3cret").digest()
    assert codec.authenticator_ismg(3, source, "s3cret") != codec.authenticator_ismg(
        0, source, "s3cret")


@pytest.mark.parametrize(("frame", "why"), [
    (h("0000000c", "00000077", "00000001"), "unknown Command_Id"),
    (h("00000010", "80000004", "00000001", "00000000"), "body ends inside msg_id"),
    (h("00000017", "80000004", "00000001", MSG_ID_HEX, "00", "0000"), "after the last field"),
    (h("00000020", "80000004", "00000001", MSG_ID_HEX, "00"), "Total_Length 32"),
    (h("00000024", "00000005", "00000001", MSG_ID_HEX, nul(16)), "body ends inside dest_id"),
])
def test_broken_frames_raise_a_clear_error_naming_command_and_seq(frame, why) -> None:
    with pytest.raises(CodecError, match=why) as err:
        codec.decode(frame)
    assert err.value.seq == 1


@pytest.mark.parametrize(("pdu", "why"), [
    (Submit(("1" * 22,), b"x"), "dest_terminal_ids is 22 octets"),
    (Submit((), b"x"), "1-99 numbers"),
    (Submit(("13800138000",), bytes(141)), "141 octets, at most 140"),
    (Submit(("13800138000",), b"x", service_id="医院"), "not ASCII"),
    (SubmitResp(1 << 64), "does not fit 8"),
])
def test_values_that_do_not_fit_are_refused_before_anything_is_sent(pdu, why) -> None:
    with pytest.raises(CodecError, match=why):
        codec.encode(1, pdu)


def test_octet_strings_end_at_the_first_nul() -> None:
    frame = bytearray(codec.encode(1, DeliverResp(0)))
    deliver = codec.encode(2, Deliver(1, dest_id="10658", src_terminal_id="138",
                                      msg_content=b"hi"))
    assert codec.decode(deliver)[1].dest_id == "10658"  # not "10658\0\0..."
    assert bytes(frame)[12:20] == bytes(8)
