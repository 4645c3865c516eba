"""The CMPP client's decisions, as plain functions: CONNECT_RESP, SUBMIT_RESP, splitting,
status reports and the heartbeat's verdicts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sms.cmpp import codec, core
from sms.cmpp.codec import ConnectResp, Deliver, StatusReport

SECRET = "s3cret"
SENT = codec.authenticator_source("901234", SECRET, "1205055634")


def resp(status: int, secret: str = SECRET, version: int = 0x20) -> ConnectResp:
    return ConnectResp(status, codec.authenticator_ismg(status, SENT, secret), version)


def test_timestamp_is_china_time() -> None:
    assert core.timestamp(0.0) == "0101080000"  # 1970-01-01 00:00 UTC is 08:00 in Beijing
    request = core.connect_request("901234", SECRET, 0.0)
    assert request.timestamp == 101080000
    assert request.authenticator == codec.authenticator_source("901234", SECRET, "0101080000")


@pytest.mark.parametrize(("status", "reason"), [
    (1, "bad_structure"), (2, "bad_source_address"), (3, "bad_authenticator"),
    (4, "version_too_high"), (9, "status_9")])
def test_each_connect_refusal_has_its_own_reason(status, reason) -> None:
    outcome = core.connect_outcome(resp(status), SENT, SECRET, 0x20)
    assert (outcome.ok, outcome.event, outcome.reason) == (False, "cmpp.connect_refused", reason)


def test_connect_ok_needs_the_ismgs_proof_of_the_secret() -> None:
    assert core.connect_outcome(resp(0), SENT, SECRET, 0x20).ok
    forged = core.connect_outcome(resp(0, secret="guess"), SENT, SECRET, 0x20)
    assert (forged.ok, forged.event) == (False, "cmpp.ismg_not_authentic")
    assert not core.connect_outcome(resp(0, version=0x30), SENT, SECRET, 0x20).ok


def test_the_ismg_side_check_of_a_connect() -> None:
    assert core.check_connect("901234", SECRET, SENT, 1205055634, 0x20, 0x20) == 0
    assert core.check_connect("901234", "x", SENT, 1205055634, 0x20, 0x20) == 3
    assert core.check_connect("901234", SECRET, SENT, 1205055635, 0x20, 0x20) == 3
    assert core.check_connect("90123", SECRET, SENT, 1205055634, 0x20, 0x20) == 2
    assert core.check_connect("901234", SECRET, SENT, 1205055634, 0x30, 0x20) == 4


@pytest.mark.parametrize(("result", "outcome"), [
    (0, "ok"), (8, "throttle"), (1, "dead"), (4, "dead"), (6, "dead"), (7, "dead"),
    (13, "dead"), (3, "retry"), (99, "retry")])
def test_submit_results(result, outcome) -> None:
    assert core.submit_outcome(result) == outcome


def test_ascii_goes_as_ascii_and_long_ascii_in_134_octet_parts() -> None:
    (part,) = core.split("Your T-code 1234567890", ref=1)
    assert (part.msg_fmt, part.tp_udhi, part.content) == (0, 0, b"Your T-code 1234567890")
    parts = core.split("a" * 300, ref=0x41)
    assert [len(p.content) for p in parts] == [140, 140, 38]
    assert [p.content[:6] for p in parts] == [bytes([5, 0, 3, 0x41, 3, n]) for n in (1, 2, 3)]
    assert all(p.msg_fmt == 0 and p.tp_udhi == 1 and p.pk_total == 3 for p in parts)


def test_chinese_goes_as_ucs2_in_one_or_67_character_parts() -> None:
    (one,) = core.split("预" * 70, ref=1)
    assert (one.msg_fmt, one.tp_udhi, len(one.content)) == (8, 0, 140)
    parts = core.split("预" * 150, ref=2)
    assert [(p.pk_total, p.pk_number) for p in parts] == [(3, 1), (3, 2), (3, 3)]
    assert [len(p.content) for p in parts] == [6 + 134, 6 + 134, 6 + 32]
    assert parts[0].content[6:].decode("utf-16-be") == "预" * 67


def test_gb18030_only_where_it_keeps_a_mixed_message_in_one_part() -> None:
    text = ("预约成功 T-code 1234567890, 内科 11月27日 上午 8:30-9:00 请准时, "
            "see you at Shenzhen No.1 hospital")  # 85 characters
    assert len(text.encode("utf-16-be")) > 140 >= len(text.encode("gb18030"))
    (part,) = core.split(text, ref=1)
    assert part.msg_fmt == 15 and part.content.decode("gb18030") == text
    assert core.decode_text(15, 0, part.content).text == text


def test_a_surrogate_pair_is_never_cut() -> None:
    text = "预" * 66 + "😀" + "约" * 10
    parts = core.split(text, ref=1)
    assert parts[0].content[6:].decode("utf-16-be") == "预" * 66  # the emoji moved on
    assert "".join(p.content[6:].decode("utf-16-be") for p in parts) == text


def test_more_than_255_parts_is_refused() -> None:
    with pytest.raises(ValueError, match="more than 255"):
        core.split("预" * 67 * 256, ref=1)


@given(st.text(min_size=0, max_size=400))
def test_split_then_decode_gives_the_text_back(text: str) -> None:
    parts = core.split(text, ref=9)
    pieces = []
    for p in parts:
        assert len(p.content) <= 140
        decoded = core.decode_text(p.msg_fmt, p.tp_udhi, p.content)
        assert decoded.concat == ((9, len(parts), p.pk_number) if len(parts) > 1 else None)
        pieces.append(decoded.text)
    assert "".join(pieces) == text


def test_a_status_report_becomes_a_receipt_for_the_submits_msg_id() -> None:
    report = StatusReport(0xC2B6D78125800007, "UNDELIV", "2612051345", "2612051346",
                          "13800138000", 3)
    deliver = Deliver(1, dest_id="10658", src_terminal_id="13800138000",
                      msg_content=codec.encode_report(report), registered_delivery=1)
    receipt = core.receipt_of(deliver)
    assert receipt is not None
    assert (receipt.message_id, receipt.stat, receipt.final) == (
        str(0xC2B6D78125800007), "UNDELIV", True)
    assert core.receipt_of(Deliver(1, dest_id="1", src_terminal_id="1", msg_content=b"x",
                                   registered_delivery=1)) is None


def test_heartbeat_gives_up_after_three_unanswered() -> None:
    beat = core.Heartbeat()
    assert (beat.idle, beat.timeout) == (180.0, 60.0)
    assert [beat.after_timeout(n) for n in (1, 2, 3)] == ["resend", "resend", "dead"]
