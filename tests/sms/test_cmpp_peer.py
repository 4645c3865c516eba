"""Our CMPP 2.0 frames against an implementation we did not write: PyPI ``pycmpp`` (a blocking
SP client; used here as an encoder/decoder only).  Its frames decode with our codec and are
accepted by our ISMG's checks; ours decode with its parsers to the same fields."""

from __future__ import annotations

import os
import time

import pytest

from sms.cmpp import codec, core
from sms.cmpp.codec import Connect, ConnectResp, Submit, SubmitResp


def _peer():  # type: ignore[no-untyped-def]
    try:
        from pycmpp import request, response
    except ImportError:
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail("pycmpp (test extra) is not installed")
        pytest.skip("pycmpp is not installed (pip install -e .[test])")
    return request, response


def test_pycmpp_connect_carries_an_authenticator_our_ismg_accepts() -> None:
    request, _ = _peer()
    frame = request.ConnectRequestInstance().create("901234", "s3cret")
    _, pdu = codec.decode(frame)
    assert isinstance(pdu, Connect) and pdu.source_addr == "901234"
    assert pdu.version == 0x21  # pycmpp says 2.1; an ISMG that speaks only 2.0 says "too high"
    assert core.check_connect(pdu.source_addr, "s3cret", pdu.authenticator, pdu.timestamp,
                              pdu.version, highest=0x21) == 0
    assert core.check_connect(pdu.source_addr, "other", pdu.authenticator, pdu.timestamp,
                              pdu.version, highest=0x21) == 3
    assert core.check_connect(pdu.source_addr, "s3cret", pdu.authenticator, pdu.timestamp,
                              pdu.version, highest=0x20) == 4


def test_our_connect_resp_reads_in_pycmpp() -> None:
    _, response = _peer()
    proof = codec.authenticator_ismg(0, bytes(range(16)), "s3cret")
    parsed = response.ConnectResponseInstance()
    parsed.resolve(codec.encode(5, ConnectResp(0, proof, 0x20)))
    assert (parsed.seq_id, parsed.status, parsed.authenticator_ISMG, parsed.version) == (
        5, 0, proof, 0x20)


def test_pycmpp_submit_decodes_with_our_codec() -> None:
    request, _ = _peer()
    head = bytes([5, 0, 3, 9, 2, 1])
    frame = request.SubmitRequestInstance().create(
        "901234", "预约成功", ["13800138000"], msg_head=head, src_id="1065812580",
        pk_total=2, pk_number=1, registered_delivery=1, service_id="HLYY", tp_udhi=1)
    _, pdu = codec.decode(frame)
    assert isinstance(pdu, Submit)
    assert (pdu.dest_terminal_ids, pdu.src_id, pdu.service_id, pdu.msg_src) == (
        ("13800138000",), "1065812580", "HLYY", "901234")
    assert (pdu.pk_total, pdu.pk_number, pdu.tp_udhi, pdu.msg_fmt) == (2, 1, 1, 8)
    decoded = core.decode_text(pdu.msg_fmt, pdu.tp_udhi, pdu.msg_content)
    assert decoded.text == "预约成功" and decoded.concat == (9, 2, 1)


def test_our_submit_and_submit_resp_read_in_pycmpp() -> None:
    request, response = _peer()
    part = core.split("预约成功：内科" * 12, ref=7)[1]
    ours = Submit(("13800138000",), part.content, msg_fmt=part.msg_fmt, tp_udhi=part.tp_udhi,
                  pk_total=part.pk_total, pk_number=part.pk_number, service_id="HLYY",
                  msg_src="901234", src_id="1065812580")
    parsed = request.SubmitRequestInstance().resolve(codec.encode(3, ours))
    assert parsed["seq_id"] == 3 and parsed["msg_fmt"] == 8 and parsed["tp_udhi"] == 1
    assert (parsed["pk_total"], parsed["pk_number"]) == (2, 2)
    assert parsed["msg_head"].encode("latin-1") == bytes([5, 0, 3, 7, 2, 2])
    assert parsed["msg_content"] == ("预约成功：内科" * 12)[67:]
    assert parsed["dest_terminal_id"].rstrip("\0") == "13800138000"
    assert parsed["src_id"].rstrip("\0") == "1065812580"
    resp = response.SubmitResponseInstance()
    now = time.localtime()
    msg_id = codec.make_msg_id(now.tm_mon, now.tm_mday, 1, 2, 3, 0x12580, 42)
    resp.resolve(codec.encode(3, SubmitResp(msg_id, 0)))
    assert (resp.seq_id, resp.msg_id, resp.status) == (3, msg_id, 0)
