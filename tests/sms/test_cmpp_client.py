"""The CMPP link over StringTransport + Clock: what it writes, its timers, window and answers."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import globalLogPublisher

from sms.cmpp import codec
from sms.cmpp.client import CmppConfig, CmppError, CmppProtocol
from sms.cmpp.codec import (
    ActiveTest,
    ActiveTestResp,
    Connect,
    ConnectResp,
    Deliver,
    DeliverResp,
    StatusReport,
    Submit,
    SubmitResp,
    Terminate,
    TerminateResp,
)
from sms.esme_config import LinkLost, ResponseTimeout
from sms.session import State

SECRET = "s3cret"
NOW = 1_764_900_000.0  # 2025-12-05 10:00 in Beijing


def frames(transport: StringTransport) -> list[tuple[int, codec.Pdu]]:
    data, out = transport.value(), []
    transport.clear()
    while data:
        (length,) = struct.unpack_from(">I", data)
        out.append(codec.decode(data[:length]))
        data = data[length:]
    return out


def outcome(d: Any) -> list:
    box: list = []
    d.addBoth(box.append)
    return box


def make_link(start: float = NOW, **config: Any) -> tuple[CmppProtocol, StringTransport, Clock,
                                                          dict]:
    seen: dict[str, list] = {"receipts": [], "mo": [], "lost": []}
    clock = Clock()
    clock.advance(start)
    proto = CmppProtocol(CmppConfig("901234", SECRET, service_id="HLYY", src_id="1065812580",
                                    **config), clock,
                         on_receipt=seen["receipts"].append,
                         on_deliver=lambda d, text: seen["mo"].append((d, text)),
                         on_lost=seen["lost"].append)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, clock, seen


def answer_connect(proto: CmppProtocol, transport: StringTransport, status: int = 0,
                   secret: str = SECRET) -> Connect:
    ((seq, connect),) = frames(transport)
    assert isinstance(connect, Connect)
    proof = codec.authenticator_ismg(status, connect.authenticator, secret)
    proto.dataReceived(codec.encode(seq, ConnectResp(status, proof)))
    return connect


def connected(start: float = NOW, **config: Any) -> tuple[CmppProtocol, StringTransport, Clock,
                                                          dict]:
    proto, transport, clock, seen = make_link(start, **config)
    proto.connect()
    answer_connect(proto, transport)
    assert proto.state is State.BOUND
    return proto, transport, clock, seen


def submit(n: int = 0) -> Submit:
    return Submit(("13800138000",), f"m{n}".encode(), msg_src="901234", src_id="1065812580")


@pytest.fixture
def events() -> Any:
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def formats(events: list[dict]) -> str:
    return "\n".join(e.get("log_format", "") for e in events)


def test_connect_sends_source_addr_md5_authenticator_version_and_china_time() -> None:
    proto, transport, _, _ = make_link()
    d = outcome(proto.connect())
    connect = answer_connect(proto, transport)
    assert connect.source_addr == "901234" and connect.version == 0x20
    assert connect.timestamp == 1205100000  # 12-05 10:00:00 Beijing (02:00 UTC)
    assert connect.authenticator == codec.authenticator_source("901234", SECRET, "1205100000")
    assert d == [None] and proto.state is State.BOUND


@pytest.mark.parametrize(("status", "reason"), [
    (1, "bad_structure"), (2, "bad_source_address"), (3, "bad_authenticator"),
    (4, "version_too_high")])
def test_each_refusal_is_logged_by_name_and_closes_the_link(events, status, reason) -> None:
    proto, transport, _, _ = make_link()
    d = outcome(proto.connect())
    answer_connect(proto, transport, status=status)
    assert isinstance(d[0].value, CmppError) and d[0].value.reason == reason
    assert transport.disconnecting and proto.refusal == reason
    refused = [e for e in events if e.get("log_format", "").startswith("cmpp.connect_refused")]
    assert refused and refused[0]["why"] == reason
    d[0].trap(CmppError)


def test_an_ismg_that_does_not_know_our_secret_is_refused(events) -> None:
    proto, transport, _, _ = make_link()
    d = outcome(proto.connect())
    answer_connect(proto, transport, status=0, secret="someone else's")
    assert isinstance(d[0].value, CmppError) and transport.disconnecting
    assert proto.state is not State.BOUND
    assert "cmpp.ismg_not_authentic" in formats(events)
    d[0].trap(CmppError)


def test_no_connect_resp_in_time_closes() -> None:
    proto, transport, clock, _ = make_link(connect_timeout=30)
    d = outcome(proto.connect())
    clock.advance(29)
    assert d == []
    clock.advance(1)
    assert isinstance(d[0].value, ResponseTimeout) and transport.disconnecting
    d[0].trap(ResponseTimeout)


def test_window_of_16_holds_the_17th_until_an_answer() -> None:
    proto, transport, _, _ = connected()
    results = [outcome(proto.submit(submit(i))) for i in range(17)]
    sent = frames(transport)
    assert len(sent) == 16 and proto.in_flight == 16
    seq, _first = sent[0]
    proto.dataReceived(codec.encode(seq, SubmitResp(0xC2B6D78125800007, 0)))
    assert results[0] == [str(0xC2B6D78125800007)]
    ((_, seventeenth),) = frames(transport)
    assert isinstance(seventeenth, Submit) and seventeenth.msg_content == b"m16"


def test_tps_limit_spreads_submits_over_time() -> None:
    proto, transport, clock, _ = connected(tps=10, window=100)
    for i in range(30):
        proto.submit(submit(i))
    assert len(frames(transport)) == 1  # burst of max(1, 10/20)
    for _ in range(200):
        clock.advance(0.005)  # a Clock runs what falls due, one step at a time
    assert 9 <= len(frames(transport)) <= 10  # 10/s for 1 s (unix-time floats round)
    for _ in range(200):
        clock.advance(0.005)
    assert 9 <= len(frames(transport)) <= 11


def test_flow_control_result_pauses_and_resubmits_with_a_new_seq() -> None:
    proto, transport, clock, _ = connected()
    d = outcome(proto.submit(submit()))
    ((seq, first),) = frames(transport)
    proto.dataReceived(codec.encode(seq, SubmitResp(0, 8)))
    assert d == [] and frames(transport) == []
    clock.advance(1.0)  # the first pause of Backoff: 1 s
    ((seq2, again),) = frames(transport)
    assert again == first and seq2 != seq
    proto.dataReceived(codec.encode(seq2, SubmitResp(77, 0)))
    assert d == ["77"]


@pytest.mark.parametrize(("result", "outcome_"), [(4, "dead"), (3, "retry")])
def test_other_results_fail_with_their_outcome(result, outcome_) -> None:
    proto, transport, _, _ = connected()
    d = outcome(proto.submit(submit()))
    ((seq, _),) = frames(transport)
    proto.dataReceived(codec.encode(seq, SubmitResp(0, result)))
    assert isinstance(d[0].value, CmppError) and d[0].value.outcome == outcome_
    d[0].trap(CmppError)


def test_an_undecodable_answer_fails_its_submit_as_worth_retrying() -> None:
    proto, transport, _, _ = connected()
    d = outcome(proto.submit(submit()))
    ((seq, _),) = frames(transport)
    proto.dataReceived(codec.HEADER.pack(17, SubmitResp.COMMAND, seq) + bytes(5))
    assert isinstance(d[0].value, CmppError) and d[0].value.outcome == "retry"
    assert not transport.disconnecting and proto.in_flight == 0
    d[0].trap(CmppError)


def test_a_submit_answered_with_another_command_fails_as_worth_retrying() -> None:
    proto, transport, _, _ = connected()
    d = outcome(proto.submit(submit()))
    ((seq, _),) = frames(transport)
    proto.dataReceived(codec.encode(seq, ActiveTestResp()))
    assert isinstance(d[0].value, CmppError) and d[0].value.outcome == "retry"
    assert proto.in_flight == 0
    d[0].trap(CmppError)


def test_a_submit_without_answer_times_out_alone() -> None:
    proto, transport, clock, _ = connected(response_timeout=60)
    d = outcome(proto.submit(submit()))
    clock.advance(60)
    assert isinstance(d[0].value, ResponseTimeout) and not transport.disconnecting
    d[0].trap(ResponseTimeout)


def test_each_submit_times_out_at_its_own_deadline_on_one_timer() -> None:
    proto, transport, clock, _ = connected(response_timeout=60)
    first = outcome(proto.submit(submit(1)))
    clock.advance(10)
    second, third = outcome(proto.submit(submit(2))), outcome(proto.submit(submit(3)))
    (_, (seq2, _), _) = frames(transport)
    assert len(clock.getDelayedCalls()) == 2  # the idle timer and one for all SUBMITs
    proto.dataReceived(codec.encode(seq2, SubmitResp(42, 0)))
    clock.advance(49.9)
    assert first == [] and second == ["42"] and third == []
    clock.advance(0.1)
    assert isinstance(first[0].value, ResponseTimeout) and third == []
    clock.advance(9.9)
    assert third == []
    clock.advance(0.1)  # 60 s after it was sent; the answered one never times out
    assert isinstance(third[0].value, ResponseTimeout) and second == ["42"]
    assert proto.in_flight == 0 and not transport.disconnecting
    later = outcome(proto.submit(submit(4)))  # a new SUBMIT after the queue ran dry
    clock.advance(60)
    assert isinstance(later[0].value, ResponseTimeout)
    for d in (first, third, later):
        d[0].trap(ResponseTimeout)


def test_active_test_after_three_idle_minutes_and_dead_after_three_unanswered() -> None:
    _proto, transport, clock, _seen = connected()
    clock.advance(179)
    assert frames(transport) == []
    clock.advance(1)
    ((_, test),) = frames(transport)
    assert isinstance(test, ActiveTest)
    clock.advance(60)
    assert isinstance(frames(transport)[0][1], ActiveTest)  # try 2
    clock.advance(60)
    assert isinstance(frames(transport)[0][1], ActiveTest)  # try 3
    assert not transport.disconnecting
    clock.advance(60)
    assert transport.disconnecting and frames(transport) == []


def test_an_answer_keeps_the_link_and_traffic_postpones_the_test() -> None:
    proto, transport, clock, _ = connected()
    clock.advance(170)
    proto.dataReceived(codec.encode(1, ActiveTest()))  # the ISMG's own test counts as life
    assert frames(transport) == [(1, ActiveTestResp())]
    clock.advance(170)
    assert frames(transport) == []
    clock.advance(10)
    ((seq, _test),) = frames(transport)
    clock.advance(59)
    proto.dataReceived(codec.encode(seq, ActiveTestResp()))
    clock.advance(179)  # answered: no resend, and the idle time starts again
    assert frames(transport) == [] and not transport.disconnecting
    clock.advance(1)
    assert [type(p) for _, p in frames(transport)] == [ActiveTest]


def test_every_deliver_is_answered_with_its_msg_id_then_dispatched() -> None:
    proto, transport, _, seen = connected()
    report = StatusReport(555, "DELIVRD", "2512051000", "2512051001", "13800138000", 1)
    proto.dataReceived(codec.encode(40, Deliver(
        9001, dest_id="1065812580", src_terminal_id="13800138000",
        msg_content=codec.encode_report(report), registered_delivery=1)))
    proto.dataReceived(codec.encode(41, Deliver(
        9002, dest_id="1065812580", src_terminal_id="13800138000",
        msg_content="取消1234567890".encode("utf-16-be"), msg_fmt=8)))
    assert frames(transport) == [(40, DeliverResp(9001, 0)), (41, DeliverResp(9002, 0))]
    assert [(r.message_id, r.stat) for r in seen["receipts"]] == [("555", "DELIVRD")]
    ((deliver, decoded),) = seen["mo"]
    assert deliver.src_terminal_id == "13800138000" and decoded.text == "取消1234567890"


def test_a_broken_deliver_is_still_answered() -> None:
    proto, transport, _, seen = connected()
    proto.dataReceived(codec.HEADER.pack(20, Deliver.COMMAND, 42) + bytes(8))
    assert frames(transport) == [(42, DeliverResp(0, 1))]
    assert seen["mo"] == [] and not transport.disconnecting


def test_terminate_on_shutdown_waits_for_its_answer() -> None:
    proto, transport, _clock, _ = connected()
    d = outcome(proto.terminate())
    ((seq, term),) = frames(transport)
    assert isinstance(term, Terminate) and not transport.disconnecting
    proto.dataReceived(codec.encode(seq, TerminateResp()))
    assert d == [None] and transport.disconnecting


def test_the_ismg_terminating_is_answered_and_fails_what_was_out() -> None:
    proto, transport, _, seen = connected()
    d = outcome(proto.submit(submit()))
    frames(transport)
    proto.dataReceived(codec.encode(7, Terminate()))
    assert frames(transport) == [(7, TerminateResp())] and transport.disconnecting
    proto.connectionLost(None)
    assert isinstance(d[0].value, LinkLost) and seen["lost"] == [proto]
    d[0].trap(LinkLost)


def test_a_hostile_length_closes_the_link() -> None:
    proto, transport, _, _ = connected()
    proto.dataReceived(struct.pack(">III", 1_000_000, 4, 1))
    assert transport.disconnecting


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="6-digit"):
        CmppConfig("12345", SECRET)
    with pytest.raises(ValueError, match="window"):
        CmppConfig("901234", SECRET, window=0)
