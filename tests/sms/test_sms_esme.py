"""The ESME link over StringTransport + Clock: bytes written, timers, window, sequence numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as hs
from sms_support import bound_esme, feed, make_esme, outcome, submit_params, take
from twisted.python.failure import Failure

from sms.dlr import Receipt
from sms.esme import LinkLost, NotBound, ResponseTimeout, SmppError, State
from sms.smpp import status as st
from sms.smpp.pdu import MAX_SEQ, Pdu, encode_pdu, response_for


def test_bind_transceiver_fields_and_success() -> None:
    proto, transport, _, _ = make_esme(system_type="OTA")
    result = outcome(proto.bind())
    (bind,) = take(transport)
    assert (bind.command, bind.seq) == ("bind_transceiver", 1)
    assert bind.params["system_id"] == "hotline" and bind.params["password"] == "secret"
    assert bind.params["system_type"] == "OTA" and bind.params["interface_version"] == 0x34
    assert proto.state is State.BINDING and result == []
    feed(proto, response_for(bind, system_id="SMSC"))
    assert result == [None] and proto.state is State.BOUND


def test_bind_refused_fails_and_closes() -> None:
    proto, transport, _, _ = make_esme()
    result = outcome(proto.bind())
    (bind,) = take(transport)
    feed(proto, response_for(bind, st.RINVPASWD))
    (failure,) = result
    assert isinstance(failure, Failure) and failure.value.status == st.RINVPASWD
    assert not failure.value.retryable
    assert transport.disconnecting


def test_bind_timeout_closes_the_link() -> None:
    proto, transport, clock, _ = make_esme(bind_timeout=30)
    result = outcome(proto.bind())
    clock.advance(29.9)
    assert result == [] and not transport.disconnecting
    clock.advance(0.1)
    assert result[0].check(ResponseTimeout) and transport.disconnecting


def test_enquire_link_after_idle_and_answered() -> None:
    proto, transport, clock, _ = bound_esme()
    clock.advance(29.9)
    assert take(transport) == []
    clock.advance(0.1)
    (ping,) = take(transport)
    assert ping.command == "enquire_link"
    clock.advance(10)
    feed(proto, response_for(ping))
    clock.advance(29.9)
    assert take(transport) == [] and not transport.disconnecting
    clock.advance(0.1)
    assert [p.command for p in take(transport)] == ["enquire_link"]


def test_unanswered_enquire_link_drops_the_link() -> None:
    _, transport, clock, _ = bound_esme(response_timeout=10)
    clock.advance(30)
    assert [p.command for p in take(transport)] == ["enquire_link"]
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert transport.disconnecting


def test_traffic_postpones_enquire_link() -> None:
    proto, transport, clock, _ = bound_esme()
    clock.advance(20)
    feed(proto, Pdu("enquire_link", 50))
    assert [p.command for p in take(transport)] == ["enquire_link_resp"]
    clock.advance(29)
    assert take(transport) == []
    clock.advance(1)
    assert [p.command for p in take(transport)] == ["enquire_link"]


def test_answers_peer_enquire_link_and_unbind() -> None:
    proto, transport, _, _ = bound_esme()
    feed(proto, Pdu("enquire_link", 77), Pdu("unbind", 78))
    assert [(p.command, p.seq, p.status) for p in take(transport)] == [
        ("enquire_link_resp", 77, 0), ("unbind_resp", 78, 0)]
    assert transport.disconnecting


def test_deliver_sm_receipt_is_acknowledged_and_reported() -> None:
    proto, transport, _, seen = bound_esme()
    feed(proto, Pdu("deliver_sm", 900, 0, {
        "esm_class": 4, "receipted_message_id": "04A1",
        "short_message": b"id:04A1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:"}))
    (resp,) = take(transport)
    assert (resp.command, resp.seq, resp.status) == ("deliver_sm_resp", 900, 0)
    assert encode_pdu(resp).endswith(b"\x00")  # message_id is NULL
    assert seen["receipts"] == [Receipt("4a1", "DELIVRD", "000")]


def test_mobile_originated_deliver_sm_goes_to_on_message() -> None:
    proto, transport, _, seen = bound_esme()
    feed(proto, Pdu("deliver_sm", 5, 0, {"source_addr": "8613800138000",
                                         "destination_addr": "12580", "data_coding": 8,
                                         "short_message": "取消".encode("utf-16-be")}))
    assert [p.command for p in take(transport)] == ["deliver_sm_resp"]
    assert seen["messages"] == [("12580", "8613800138000", "取消")]


def test_submit_returns_message_id_with_registered_delivery() -> None:
    proto, transport, _, _ = bound_esme()
    result = outcome(proto.submit(submit_params()))
    (sub,) = take(transport)
    assert sub.command == "submit_sm" and sub.params["registered_delivery"] == 1
    feed(proto, response_for(sub, message_id="4a1"))
    assert result == ["4a1"]


def test_submit_error_status() -> None:
    proto, transport, _, _ = bound_esme()
    result = outcome(proto.submit(submit_params()))
    (sub,) = take(transport)
    feed(proto, response_for(sub, st.RSYSERR))
    error = result[0].value
    assert isinstance(error, SmppError) and error.status == st.RSYSERR and error.retryable


def test_generic_nack_fails_the_matching_request() -> None:
    proto, transport, _, _ = bound_esme()
    result = outcome(proto.submit(submit_params()))
    (sub,) = take(transport)
    feed(proto, Pdu("generic_nack", sub.seq, st.RINVCMDLEN))
    assert result[0].value.status == st.RINVCMDLEN
    assert proto.in_flight == 0


def test_window_limits_outstanding_submits() -> None:
    proto, transport, _, _ = bound_esme(window=10)
    results = [outcome(proto.submit(submit_params())) for _ in range(15)]
    sent = take(transport)
    assert len(sent) == 10 and proto.in_flight == 10 and proto.queued == 5
    feed(proto, response_for(sent[3], message_id="x"))
    (eleventh,) = take(transport)
    assert eleventh.command == "submit_sm" and proto.queued == 4
    assert results[3] == ["x"]


def test_response_timeout_fails_only_that_request() -> None:
    proto, transport, clock, _ = bound_esme(window=1, response_timeout=30,
                                            enquire_link_interval=1000)
    first = outcome(proto.submit(submit_params()))
    second = outcome(proto.submit(submit_params()))
    (sub1,) = take(transport)
    clock.advance(30)
    assert first[0].check(ResponseTimeout)
    assert not transport.disconnecting
    (sub2,) = take(transport)  # the window slot was freed
    feed(proto, response_for(sub1, message_id="late"))  # late answer: ignored, no crash
    feed(proto, response_for(sub2, message_id="2"))
    assert second == ["2"]


def test_sequence_numbers_wrap_and_skip_in_flight() -> None:
    proto, transport, _, _ = bound_esme(window=5)
    proto._seq = MAX_SEQ - 1
    for _ in range(3):
        proto.submit(submit_params())
    assert [p.seq for p in take(transport)] == [MAX_SEQ, 1, 2]
    proto._seq = MAX_SEQ  # next would be 1, which is still outstanding
    proto.submit(submit_params())
    assert [p.seq for p in take(transport)] == [3]


def test_unsupported_command_gets_generic_nack() -> None:
    proto, transport, _, _ = bound_esme()
    feed(proto, Pdu("query_sm", 31, 0, {"message_id": "1", "source_addr": "1"}))
    proto.dataReceived(bytes.fromhex("00000010 00000777 00000000 00000020"))
    assert [(p.command, p.seq, p.status) for p in take(transport)] == [
        ("generic_nack", 31, st.RINVCMDID), ("generic_nack", 0x20, st.RINVCMDID)]
    assert not transport.disconnecting and proto.state is State.BOUND


def test_garbage_is_nacked_and_closed_never_raised() -> None:
    proto, transport, _, _ = bound_esme()
    proto.dataReceived(b"\x00\x00\x00\x03garbage!!!!!!!!!!!!")
    (nack,) = take(transport)
    assert (nack.command, nack.status) == ("generic_nack", st.RINVCMDLEN)
    assert transport.disconnecting


def test_undecodable_response_fails_its_request() -> None:
    proto, transport, _, _ = bound_esme()
    result = outcome(proto.submit(submit_params()))
    (sub,) = take(transport)
    body = b"no-terminator" * 10
    proto.dataReceived((16 + len(body)).to_bytes(4, "big") + bytes.fromhex("80000004")
                       + bytes(4) + sub.seq.to_bytes(4, "big") + body)
    assert isinstance(result[0].value, SmppError)
    assert take(transport) == []  # responses are not nacked


def test_link_loss_fails_outstanding_and_queued_and_clears_timers() -> None:
    proto, _, clock, seen = bound_esme(window=1)
    a = outcome(proto.submit(submit_params()))
    b = outcome(proto.submit(submit_params()))
    proto.connectionLost(Failure(ConnectionError("gone")))
    assert a[0].check(LinkLost) and b[0].check(LinkLost)
    assert seen["lost"] == [proto] and proto.state is State.CLOSED
    assert clock.getDelayedCalls() == []
    assert outcome(proto.submit(submit_params()))[0].check(NotBound)


def test_graceful_unbind() -> None:
    proto, transport, _, _ = bound_esme()
    done = outcome(proto.unbind())
    (unbind,) = take(transport)
    assert unbind.command == "unbind" and proto.state is State.UNBINDING
    assert not transport.disconnecting
    feed(proto, response_for(unbind))
    assert done == [None] and transport.disconnecting


def test_unbind_without_answer_closes_after_timeout() -> None:
    proto, transport, clock, _ = bound_esme(unbind_timeout=5)
    done = outcome(proto.unbind())
    clock.advance(5)
    assert done == [None] and transport.disconnecting


def test_unencodable_submit_fails_alone() -> None:
    proto, transport, _, _ = bound_esme(window=1)
    bad = outcome(proto.submit({"destination_addr": "1" * 30, "short_message": b"x"}))
    good = outcome(proto.submit(submit_params()))
    assert isinstance(bad[0].value, ValueError) and "submit_sm" in str(bad[0].value)
    (sub,) = take(transport)
    feed(proto, response_for(sub, message_id="9"))
    assert good == ["9"] and proto.in_flight == 0


def test_failing_callback_still_acknowledges_deliver_sm() -> None:
    proto, transport, _, _ = bound_esme()

    def explode(receipt: Receipt) -> None:
        raise RuntimeError("bug in the receipt handler")

    proto.on_receipt = explode
    feed(proto, Pdu("deliver_sm", 8, 0, {"esm_class": 4, "short_message": b"id:1 stat:DELIVRD"}),
         Pdu("enquire_link", 9))
    assert [(p.command, p.seq) for p in take(transport)] == [("deliver_sm_resp", 8),
                                                              ("enquire_link_resp", 9)]
    assert proto.state is State.BOUND


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.one_of(
    hs.binary(max_size=40),
    hs.sampled_from([encode_pdu(Pdu("enquire_link", 5)), encode_pdu(Pdu("unbind_resp", 1)),
                     encode_pdu(Pdu("deliver_sm", 6, 0, {"esm_class": 0x44,
                                                         "short_message": b"\x05\x00"}))]),
), max_size=8))
def test_any_byte_stream_is_survived(chunks: list[bytes]) -> None:
    proto, transport, clock, _ = bound_esme()
    for chunk in chunks:
        proto.dataReceived(chunk)
    clock.advance(120)
    for pdu in take(transport):  # whatever we wrote is a well-formed PDU
        assert pdu.command in {"generic_nack", "enquire_link", "enquire_link_resp",
                               "deliver_sm_resp", "unbind_resp"}
