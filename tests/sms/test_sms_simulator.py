"""ESME meets the loopback SMSC simulator in memory (iosim) before it meets a socket."""

from __future__ import annotations

from sms_support import outcome
from twisted.internet.task import Clock
from twisted.test.iosim import FakeTransport, connect

from sms.encoding import split
from sms.esme import EsmeConfig, EsmeProtocol, SmppError, State
from sms.smpp import status as st
from sms.smsc import SmscFactory


def pair(credentials: tuple[str, str] | None = None, password: str = "secret"):
    received: list[tuple[str, str, str]] = []
    receipts: list = []
    factory = SmscFactory(lambda *m: received.append(m), credentials=credentials)
    server = factory.buildProtocol(None)
    client = EsmeProtocol(EsmeConfig("hotline", password), Clock(), on_receipt=receipts.append)
    pump = connect(server, FakeTransport(server, isServer=True),
                   client, FakeTransport(client, isServer=False), greet=False)
    return client, pump, factory, received, receipts


def test_bind_with_good_credentials_then_submit_and_receipt() -> None:
    client, pump, _, received, receipts = pair(("hotline", "secret"))
    bound = outcome(client.bind())
    pump.flush()
    assert bound == [None] and client.state is State.BOUND
    (part,) = split("预约成功 1234567890", ref=1)
    ids = outcome(client.submit({"source_addr": "12580", "destination_addr": "8613800138000",
                                 "data_coding": part.data_coding, "esm_class": part.esm_class,
                                 "short_message": part.short_message, "registered_delivery": 1}))
    pump.flush()
    assert ids == ["1000"]
    assert received == [("8613800138000", "12580", "预约成功 1234567890")]
    assert [(r.message_id, r.stat) for r in receipts] == [("1000", "DELIVRD")]


def test_bind_with_wrong_password_is_refused() -> None:
    client, pump, _, _, _ = pair(("hotline", "secret"), password="nope")
    bound = outcome(client.bind())
    pump.flush()
    assert isinstance(bound[0].value, SmppError) and bound[0].value.status == st.RINVPASWD
    assert client.state is State.CLOSED


def test_simulator_reassembles_udh_parts_in_any_order() -> None:
    client, pump, factory, received, _ = pair()
    client.bind()
    pump.flush()
    text = "挂号须知：" * 40
    parts = split(text, ref=200)
    assert len(parts) == 3
    for part in reversed(parts):
        client.submit({"source_addr": "12580", "destination_addr": "8613800138000",
                       "data_coding": part.data_coding, "esm_class": part.esm_class,
                       "short_message": part.short_message})
        pump.flush()
        assert received == [] or part is parts[0]
    assert received == [("8613800138000", "12580", text)]
    assert len(factory.submits) == 3


def test_simulator_refuses_submit_before_bind_and_nacks_unknown() -> None:
    client, pump, _, _, _ = pair()
    client._core.state = State.BOUND  # pretend, to push a submit through unbound
    result = outcome(client.submit({"destination_addr": "1", "short_message": b"x"}))
    pump.flush()
    assert result[0].value.status == st.RINVBNDSTS


def test_keepalive_over_iosim_keeps_the_link_up() -> None:
    received: list = []
    server = SmscFactory(lambda *m: received.append(m)).buildProtocol(None)
    clock = Clock()
    client = EsmeProtocol(EsmeConfig("hotline", "x", response_timeout=10), clock)
    pump = connect(server, FakeTransport(server, isServer=True),
                   client, FakeTransport(client, isServer=False), greet=False)
    client.bind()
    pump.flush()
    for _ in range(5):
        clock.advance(30)  # idle: enquire_link goes out ...
        pump.flush()  # ... and the simulator answers before the 10 s timeout
        clock.advance(9)
    assert client.state is State.BOUND
    assert client._seq == 6  # bind + five enquire_links, all answered


def test_unbind_over_iosim_closes_both_sides() -> None:
    client, pump, factory, _, _ = pair()
    client.bind()
    pump.flush()
    done = outcome(client.unbind())
    pump.flush()
    assert done == [None] and factory.unbinds == 1
    assert client.state is State.CLOSED
