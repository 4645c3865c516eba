"""The HTTP port's edge (``ussd.httpport``), for gateway routes and other paths, with the fast
path's lean gateway answers and without (twisted.web answers every request): a declared
oversized body refused at once, garbage answered 400 and closed, header and body deadlines that
bytes sent slowly do not push back, the keep-alive idle timeout, and many slow clients that
neither starve normal ones nor stay open.

Deadlines run on a ``Clock``; connections are real TCP or ``StringTransport``.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from test_http_port import GET_HELLO, Port, closed, hop, responses
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.internet.threads import deferToThread

HEADER_S, BODY_S, KEEPALIVE_S = 10.0, 10.0, 75.0
SLOW_CLIENTS = 200


@pytest_twisted.async_yield_fixture(params=[True, False], ids=["fast", "plain"])
async def edge(redis: Any, request: Any) -> Any:
    """The HTTP port with its deadlines on a Clock (real TCP still runs on the reactor), with
    the fast path's lean gateway answers and without (twisted.web answers every request)."""
    clock = Clock()
    port = Port(redis, clock=clock, lean=request.param)
    port.clock = clock  # type: ignore[attr-defined]
    port.built = built = []  # type: ignore[attr-defined]
    build = port.factory.buildProtocol

    def counted(addr: Any) -> Any:
        built.append(addr)
        return build(addr)

    port.factory.buildProtocol = counted  # type: ignore[method-assign]
    assert (port.factory.header_timeout_s, port.factory.body_timeout_s,
            port.factory.keepalive_timeout_s) == (HEADER_S, BODY_S, KEEPALIVE_S)
    yield port
    await port.listening.stopListening()


def connection(port: Port) -> tuple[Any, StringTransport]:
    protocol = port.factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def status_of(transport: StringTransport) -> bytes:
    return transport.value().split(b"\r\n", 1)[0]


HUGE = b"Content-Length: 100000000000\r\n"


@pytest.mark.parametrize("path", [b"/ussd/at", b"/hello"])
def test_a_declared_oversized_body_is_refused_at_once(edge: Port, path: bytes) -> None:
    for expect in (b"", b"Expect: 100-continue\r\n"):
        protocol, transport = connection(edge)
        protocol.dataReceived(b"POST %s HTTP/1.1\r\nHost: t\r\n%s%s\r\n" % (path, expect, HUGE))
        assert status_of(transport) == b"HTTP/1.1 413 Request Entity Too Large"
        assert b"100 Continue" not in transport.value()  # no invitation to send it
        assert transport.disconnecting
        protocol.connectionLost(None)
    # the limit is max_body_bytes: one byte over is refused, the limit itself read
    limit = edge.factory.max_body_bytes
    for size, status in ((limit + 1, b"413"), (limit, b"200")):
        protocol, transport = connection(edge)
        protocol.dataReceived(b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
                              % size)
        if status == b"200":
            assert transport.value() == b""  # waiting for the body
            protocol.dataReceived(b"a" * size)
        assert status in status_of(transport)
        protocol.connectionLost(None)


def huge_over_tcp(port: Port) -> tuple[int, bool]:
    with port.connect() as sock:  # the body is never sent: the answer must not wait for it
        sock.sendall(b"POST /hello HTTP/1.1\r\nHost: t\r\n" + HUGE + b"\r\n")
        status = responses(sock, 1)[0][0]
        return status, closed(sock)


@pytest_twisted.ensureDeferred
async def test_the_413_comes_over_tcp_without_the_body(edge: Port) -> None:
    assert await deferToThread(huge_over_tcp, edge) == (413, True)


def garbage(port: Port, data: bytes) -> tuple[bytes, bool]:
    with port.connect() as sock:
        sock.sendall(data)
        first = sock.recv(65536)
        return first.split(b"\r\n", 1)[0], closed(sock)


@pytest_twisted.ensureDeferred
async def test_unparseable_bytes_get_400_and_a_close(edge: Port) -> None:
    for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS client hello
                 b"\x00\x01 garbage\r\n\r\n", b"GET /hello HTTP/1.1\r\nbad header\r\n\r\n",
                 GET_HELLO + b"\xff\xfe\r\n\r\n"):  # after a request twisted.web answered
        status, was_closed = await deferToThread(garbage, edge, data)
        if data.startswith(GET_HELLO):
            assert status == b"HTTP/1.1 200 OK"  # the good one first; the 400 follows it
        else:
            assert status == b"HTTP/1.1 400 Bad Request", data
        assert was_closed


@pytest.mark.parametrize("path", [b"/ussd/at", b"/hello"])
def test_a_head_sent_a_byte_at_a_time_gets_408_at_its_deadline(edge: Port, path: bytes) -> None:
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    protocol, transport = connection(edge)
    head = b"POST %s HTTP/1.1\r\nHost: t\r\nX-Pad: %s\r\n" % (path, b"a" * 100)
    for byte in head[:19]:  # one byte every half second: each resets no deadline
        protocol.dataReceived(bytes([byte]))
        clock.advance(0.5)
    assert transport.value() == b"" and not transport.disconnecting
    clock.advance(HEADER_S - 19 * 0.5 - 0.01)
    assert transport.value() == b""
    clock.advance(0.02)
    assert status_of(transport) == b"HTTP/1.1 408 Request Time-out"
    assert transport.disconnecting
    protocol.connectionLost(None)


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(edge: Port) -> None:
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    protocol, transport = connection(edge)
    clock.advance(HEADER_S - 0.01)
    assert not transport.disconnecting
    clock.advance(0.02)
    assert status_of(transport) == b"HTTP/1.1 408 Request Time-out" and transport.disconnecting
    protocol.connectionLost(None)


@pytest.mark.parametrize("path", [b"/ussd/at", b"/hello"])
def test_a_body_has_its_own_deadline_from_the_end_of_the_head(edge: Port, path: bytes) -> None:
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    protocol, transport = connection(edge)
    clock.advance(HEADER_S - 1)  # the head arrives just in time
    protocol.dataReceived(b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" % path)
    for _ in range(19):
        protocol.dataReceived(b"x")
        clock.advance(0.5)
    clock.advance(BODY_S - 19 * 0.5 - 0.01)
    assert transport.value() == b""
    clock.advance(0.02)
    assert status_of(transport) == b"HTTP/1.1 408 Request Time-out" and transport.disconnecting
    protocol.connectionLost(None)


def test_a_connection_keeps_one_timer_that_is_not_moved_per_request(edge: Port) -> None:
    """Each request sets three deadlines (head, body, kept alive); re-arming a timer for each
    cost a USSD hop more than the rest of the port (bench/RESULTS.md, ussd_http). The timer
    only moves for a sooner deadline, and a deadline pushed back is still kept."""
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    protocol, transport = connection(edge)
    [timer] = clock.getDelayedCalls()
    for _ in range(100):
        for period in (HEADER_S, BODY_S, KEEPALIVE_S):
            protocol.setTimeout(period)
        clock.advance(0.001)
    assert clock.getDelayedCalls() == [timer] and timer.getTime() == HEADER_S  # never moved
    clock.advance(KEEPALIVE_S - 1)  # past the timer's first time: it waits again, not acts
    assert not transport.disconnecting and len(clock.getDelayedCalls()) == 1
    clock.advance(1.2)  # the last deadline set (kept alive, from t=0.099) has passed
    assert transport.disconnecting
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == []


@pytest_twisted.ensureDeferred
async def test_keep_alive_idle_is_separate_and_the_next_head_has_its_own_deadline(
    edge: Port,
) -> None:
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    async def answered(protocol: Any, first: bytes) -> None:
        edge.answered = lean = Deferred()
        protocol.dataReceived(first)
        if first != GET_HELLO:  # twisted.web answers at once, the hop after its Redis trips
            await lean
        edge.answered = None

    for first in (hop(""), GET_HELLO):  # answered by the lean protocol / by twisted.web
        protocol, transport = connection(edge)
        await answered(protocol, first)
        answered_at = len(transport.value())
        assert status_of(transport) == b"HTTP/1.1 200 OK"
        clock.advance(KEEPALIVE_S - 1)  # idle, kept alive: longer than any read deadline
        assert not transport.disconnecting
        protocol.dataReceived(b"GET /hel")  # the next request starts: its head is now due
        clock.advance(HEADER_S + 0.01)
        assert b"408 Request Time-out" in transport.value()[answered_at:]
        assert transport.disconnecting
        protocol.connectionLost(None)
        # and an idle one is closed after keepalive_timeout_s
        protocol, transport = connection(edge)
        await answered(protocol, first)
        clock.advance(KEEPALIVE_S - 0.01)
        assert not transport.disconnecting
        clock.advance(0.02)
        assert transport.disconnecting and b"408" not in transport.value()
        protocol.connectionLost(None)


@pytest_twisted.ensureDeferred
async def test_a_refusal_waits_for_the_answer_twisted_web_is_still_writing(edge: Port) -> None:
    protocol, transport = connection(edge)
    try:
        protocol.dataReceived(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n\xff garbage\r\n\r\n")
        request = await edge.slow.started
        assert transport.value().endswith(b"part1\r\n") and b"400" not in transport.value()
        request.write(b"part2")
        request.finish()
        after = transport.value().split(b"0\r\n\r\n", 1)[1]  # the end of /slow's chunked body
        assert after.startswith(b"HTTP/1.1 400 Bad Request") and transport.disconnecting
    finally:
        protocol.connectionLost(None)


def slow_and_normal(port: Port) -> tuple[list[socket.socket], list[int]]:
    """SLOW_CLIENTS connections each sending its head one byte per round, with normal requests
    between the rounds; returns the slow sockets (still open) and the normal answers."""
    slow = [port.connect() for _ in range(SLOW_CLIENTS)]
    head = b"POST /ussd/at HTTP/1.1\r\nHost: t\r\n"
    normal = []
    for byte in head[:12]:
        for sock in slow:
            sock.sendall(bytes([byte]))
        with port.connect() as sock:  # a normal client meanwhile: a hop and a kiosk-like GET
            sock.sendall(hop("") + GET_HELLO)
            normal += [status for status, _, _ in responses(sock, 2)]
    return slow, normal


@pytest_twisted.ensureDeferred
async def test_many_slow_clients_do_not_starve_normal_ones_and_are_closed_in_time(
    edge: Port,
) -> None:
    clock: Clock = edge.clock  # type: ignore[attr-defined]
    slow, normal = await deferToThread(slow_and_normal, edge)
    assert normal == [200] * 24  # every normal request answered while the slow ones hang on
    # each slow connection was accepted before the last normal one: all their deadlines run
    assert len(edge.built) == SLOW_CLIENTS + 12  # type: ignore[attr-defined]
    clock.advance(HEADER_S + 0.01)

    def finish() -> list[tuple[bytes, bool]]:
        out = []
        for sock in slow:
            with sock:
                sock.settimeout(10)
                first = sock.recv(65536).split(b"\r\n", 1)[0]
                out.append((first, closed(sock)))
        return out

    assert await deferToThread(finish) == [(b"HTTP/1.1 408 Request Time-out", True)] * SLOW_CLIENTS
