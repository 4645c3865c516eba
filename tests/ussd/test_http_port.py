"""The HTTP port (``ussd.httpport``) over real TCP, read by Python's ``http.client``.

Connection handling the adapters' own tests do not reach: pipelining, chunked bodies and
``Expect: 100-continue``, HTTP/1.0, malformed and oversized requests, a connection that starts on
another path or switches to one, the idle timeout, and a fuzz of bytes after a gateway request
line.
"""

from __future__ import annotations

import http.client
import socket
from typing import Any
from urllib.parse import urlencode

import pytest_twisted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import reactor, task
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.internet.threads import deferToThread
from twisted.logger import globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from ussd_harness import PHONE, CountingDialogue

from hotline.ussd_wiring import gateway_routes
from ussd.at import AtUssdResource
from ussd.gateway import UssdGateway
from ussd.httpbase import Adapter, answer_hop
from ussd.httpport import MAX_BODY, GatewayHttpFactory
from ussd.sessions import UssdSessionStore
from ussd.wire import GatewayRequest


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"hello from twisted.web"

    def render_POST(self, request: Any) -> bytes:
        return b"posted " + request.content.read()


class Slow(Resource):
    """Writes part of its answer at once and the rest when the test says (``finish``)."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.started: Deferred[Any] = Deferred()

    def render_GET(self, request: Any) -> Any:
        request.write(b"part1")
        self.started.callback(request)
        return NOT_DONE_YET


class CountingSite(Site):
    """twisted.web's answers, counted apart from the port's own (off the fast path twisted.web
    answers the gateway routes too)."""

    def __init__(self, resource: Resource, port: Port) -> None:
        super().__init__(resource)
        self.port = port

    def log(self, request: Any) -> None:
        self.port.web_counted.append((request.path, request.code))
        # once twisted.web is done with the request (it restarts its idle timer after this)
        reactor.callLater(0, self.port.was_answered)


class Port:
    def __init__(self, redis: Any, clock: Any = None, lean: bool | None = None) -> None:
        self.dialogue = CountingDialogue()
        self.counted: list[tuple[bytes, int]] = []  # answers the port wrote itself
        self.web_counted: list[tuple[bytes, int]] = []  # answers twisted.web wrote
        root, ussd = Resource(), Resource()
        root.putChild(b"ussd", ussd)
        root.putChild(b"hello", Hello())
        self.slow = Slow()
        root.putChild(b"slow", self.slow)
        ussd.putChild(b"at", AtUssdResource(self.dialogue, UssdSessionStore(redis),
                                            clock=Clock()))
        self.answered: Deferred[None] | None = None  # fires at the next answer written whole
        self.factory = GatewayHttpFactory(CountingSite(root, self), gateway_routes(root),
                                          clock=clock or reactor, count=self.count, lean=lean)
        self.listening = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.port = self.listening.getHost().port

    def count(self, path: bytes, code: int) -> None:
        self.counted.append((path, code))
        self.was_answered()

    def was_answered(self) -> None:
        if self.answered is not None:
            answered, self.answered = self.answered, None
            answered.callback(None)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)


@pytest_twisted.async_yield_fixture
async def port(redis: Any) -> Any:
    """The HTTP port over an AT adapter and a twisted.web page, on 127.0.0.1:0."""
    listening = Port(redis)
    yield listening
    await listening.listening.stopListening()


def hop(text: str, *, version: str = "1.1", extra: str = "") -> bytes:
    body = urlencode({"sessionId": "s1", "phoneNumber": PHONE, "serviceCode": "*125#",
                      "text": text}).encode()
    return (f"POST /ussd/at HTTP/{version}\r\nHost: t\r\n{extra}"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


GET_HELLO = b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"


def responses(sock: socket.socket, n: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``n`` responses from one connection with http.client's parser."""
    stream = sock.makefile("rb")

    class Shared:  # http.client closes a response's file at its end; the next one needs it
        def __getattr__(self, name: str) -> Any:
            return getattr(stream, name)

        def close(self) -> None:
            pass

    class Sock:
        def makefile(self, *_: Any) -> Any:
            return Shared()

    out = []
    for _ in range(n):
        resp = http.client.HTTPResponse(Sock())  # type: ignore[arg-type]
        resp.begin()
        out.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()))
    return out


def closed(sock: socket.socket) -> bool:
    """The server closed the connection (after anything it had sent was read)."""
    try:
        while chunk := sock.recv(65536):
            del chunk
    except (ConnectionResetError, TimeoutError):
        return False
    return True


def exchange(port: Port, data: bytes, n: int) -> list[tuple[int, dict[str, str], bytes]]:
    with port.connect() as sock:
        sock.sendall(data)
        return responses(sock, n)


@pytest_twisted.ensureDeferred
async def test_pipelined_hops_are_answered_in_order_and_step_once(port: Port) -> None:
    got = await deferToThread(exchange, port, hop("") + hop("1") + hop("1"), 3)
    assert [(s, b.decode()) for s, _, b in got] == [
        (200, "CON 欢迎\n1 预约挂号"), (200, "CON 请输入身份证号"), (200, "CON 请输入身份证号")]
    assert port.dialogue.resumes == ["1"]  # the third was a retry
    headers = got[0][1]
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["cache-control"] == "no-store" and "date" in headers
    lean = port.factory.lean  # or twisted.web answers them (the fast path off)
    assert (port.counted if lean else port.web_counted) == [(b"/ussd/at", 200)] * 3


def chunked_with_expect(port: Port) -> tuple[bytes, list[tuple[int, dict[str, str], bytes]]]:
    body = urlencode({"sessionId": "s1", "phoneNumber": PHONE, "text": ""}).encode()
    with port.connect() as sock:
        sock.sendall(b"POST /ussd/at HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        interim = sock.recv(25)
        half = len(body) // 2
        for part in (body[:half], body[half:], b""):
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        return interim, responses(sock, 1)


@pytest_twisted.ensureDeferred
async def test_chunked_body_after_100_continue(port: Port) -> None:
    interim, got = await deferToThread(chunked_with_expect, port)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert got[0][0] == 200 and got[0][2].decode() == "CON 欢迎\n1 预约挂号"


def one_then_eof(port: Port, data: bytes) -> tuple[list[Any], bool]:
    with port.connect() as sock:
        sock.sendall(data)
        got = responses(sock, 1)
        return got, closed(sock)


@pytest_twisted.ensureDeferred
async def test_http_1_0_and_connection_close_are_answered_then_closed(port: Port) -> None:
    for request in (hop("", version="1.0"), hop("", extra="Connection: close\r\n")):
        got, was_closed = await deferToThread(one_then_eof, port, request)
        assert got[0][0] == 200 and was_closed
        if port.factory.lean or b"HTTP/1.1" in request:  # twisted.web: implied for HTTP/1.0
            assert got[0][1]["connection"] == "close"


@pytest_twisted.ensureDeferred
async def test_bad_and_oversized_requests_get_a_clear_4xx_and_step_nothing(port: Port) -> None:
    big_head = "X-Pad: " + "a" * 20000 + "\r\n"
    cases = [
        (b"POST /ussd/at HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "malformed HTTP"),
        (b"POST /ussd/at HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
         + b"a" * (MAX_BODY + 1), 413, "body larger than"),
        (hop("1", extra=big_head), 431, "headers larger than"),
        # a protocol upgrade is not made: answered as plain HTTP, then closed
        (b"POST /ussd/at HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
         b"Content-Length: 0\r\n\r\n", 400, "missing sessionId"),
    ]
    for request, status, text in cases:
        got, was_closed = await deferToThread(one_then_eof, port, request)
        assert got[0][0] == status and text in got[0][2].decode(), got
        assert was_closed
    assert port.dialogue.resumes == [] and port.dialogue.begins == 0
    # the port still serves
    assert (await deferToThread(exchange, port, hop(""), 1))[0][0] == 200


def test_the_routes_are_every_adapter_under_ussd_with_the_paths_it_adds(port: Port) -> None:
    assert set(port.factory.routes) == {b"/ussd/at", b"/ussd/at/end"}  # not /hello


@pytest_twisted.ensureDeferred
async def test_a_connection_that_starts_elsewhere_is_twisted_webs(port: Port) -> None:
    got = await deferToThread(exchange, port, GET_HELLO + hop("") + hop("1"), 3)
    assert got[0][0] == 200 and got[0][2] == b"hello from twisted.web"
    assert "twisted" in got[0][1]["server"].lower()
    assert [b.decode() for _, _, b in got[1:]] == ["CON 欢迎\n1 预约挂号", "CON 请输入身份证号"]
    assert all("twisted" in h["server"].lower() for _, h, _ in got[1:])
    assert port.counted == []  # twisted.web's Site counts these, not the lean protocol
    # garbage as a first line: 400 (read by httptools like every request)
    with_garbage = await deferToThread(one_then_eof, port, b"\x00\x01 garbage\r\n\r\n")
    assert with_garbage[0][0][0] == 400


@pytest_twisted.ensureDeferred
async def test_a_gateway_connection_that_asks_for_another_path_is_handed_over(port: Port) -> None:
    data = hop("") + GET_HELLO + hop("1") + hop("1*11010519491231002*")
    got = await deferToThread(exchange, port, data, 4)
    assert [s for s, _, _ in got] == [200] * 4
    assert got[0][2].decode() == "CON 欢迎\n1 预约挂号"
    assert ("server" not in got[0][1]) is port.factory.lean  # answered without twisted.web
    assert got[1][2] == b"hello from twisted.web"
    assert got[2][2].decode() == "CON 请输入身份证号"
    assert got[3][2].decode().startswith("END 预约成功")
    assert port.dialogue.resumes == ["1", "11010519491231002*"]


def expect_after_handover(port: Port) -> tuple[bytes, list[tuple[int, dict[str, str], bytes]]]:
    with port.connect() as sock:
        sock.sendall(hop("") + GET_HELLO)
        responses(sock, 2)  # the second was handed to twisted.web: the connection is its now
        sock.sendall(b"POST /hello HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 4\r\n\r\n")
        interim = sock.recv(25)  # the body is held back until the server says go on
        sock.sendall(b"body")
        return interim, responses(sock, 1)


@pytest_twisted.ensureDeferred
async def test_100_continue_is_answered_after_the_connection_was_handed_over(port: Port) -> None:
    interim, got = await deferToThread(expect_after_handover, port)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert got[0][0] == 200 and got[0][2] == b"posted body"


@pytest_twisted.ensureDeferred
async def test_no_100_continue_lands_inside_an_answer_twisted_web_is_still_writing(
    port: Port,
) -> None:
    protocol = port.factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    try:
        port.answered = answered = Deferred()
        protocol.dataReceived(hop("") + b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        await answered  # the hop; then /slow goes to twisted.web, which writes half of it
        request = await port.slow.started
        sent = len(transport.value())
        assert transport.value().endswith(b"part1\r\n")
        protocol.dataReceived(b"POST /hello HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                              b"Content-Length: 4\r\n\r\n")
        assert len(transport.value()) == sent  # no 100 inside /slow's chunked body
        request.write(b"part2")
        request.finish()
        protocol.dataReceived(b"body")  # as a client does after its own wait
        await task.deferLater(reactor, 0, lambda: None)
        assert transport.value().endswith(b"posted body")
        assert b"100 Continue" not in transport.value()
    finally:
        protocol.connectionLost(None)


@pytest_twisted.ensureDeferred
async def test_idle_connections_are_closed_and_busy_ones_are_not(redis) -> None:
    clock = Clock()
    port = Port(redis, clock=clock)
    idle = port.factory.keepalive_timeout_s
    try:
        assert (await deferToThread(exchange, port, hop(""), 1))[0][0] == 200
        dialogue = port.dialogue
        dialogue.gate, dialogue.entered = Deferred(), Deferred()
        gate, entered = dialogue.gate, dialogue.entered
        waiting = deferToThread(one_then_eof, port, hop("1"))
        await entered
        clock.advance(idle + 1)  # its hop is running: the connection is not idle
        port.answered = Deferred()
        dialogue.gate = None
        gate.callback(None)
        await port.answered  # the answer was written; idle from now on
        assert not waiting.called
        clock.advance(idle + 1)
        got, was_closed = await waiting
        assert got[0][2].decode() == "CON 请输入身份证号" and was_closed
    finally:
        await port.listening.stopListening()


def raw(port: Port, data: bytes) -> bytes:
    with port.connect() as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return out


@pytest_twisted.ensureDeferred
async def test_fuzzed_bytes_after_a_gateway_request_line_never_get_a_5xx(port: Port) -> None:
    await deferToThread(fuzz_port, port)
    assert (await deferToThread(exchange, port, hop(""), 1))[0][0] == 200


def fuzz_port(port: Port) -> None:
    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(tail=st.one_of(st.binary(max_size=300),
                          st.sampled_from([b"\r\n\r\n", b"Content-Length: -1\r\n\r\n",
                                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
                                           b"Content-Length: 5\r\n\r\n1"]).map(bytes)))
    def one(tail: bytes) -> None:
        out = raw(port, b"POST /ussd/at HTTP/1.1\r\n" + tail)
        for line in out.split(b"\r\n"):
            if line.startswith(b"HTTP/1."):
                assert not line.split(b" ")[1].startswith(b"5"), out

    one()


class Broken(Adapter):
    """``/ussd/raises`` fails in ``handle``; ``/ussd/spell`` in spelling a finished hop."""

    def __init__(self, gateway: UssdGateway, in_handle: bool) -> None:
        super().__init__()
        self.gateway, self.in_handle = gateway, in_handle

    def handle(self, request: GatewayRequest) -> Any:
        if self.in_handle:
            raise RuntimeError("adapter bug")

        def spell(reply: Any) -> Any:
            raise RuntimeError("spelling bug")

        return answer_hop(self.gateway, reactor, 10, "8613800138000",
                          self.gateway.hop("s1", "8613800138000", ""), spell)


@pytest_twisted.ensureDeferred
async def test_a_broken_adapter_gets_a_500_on_both_servers_and_the_connection_goes_on(
        port: Port) -> None:
    ussd = port.factory.site.resource.children[b"ussd"]
    gateway = ussd.children[b"at"].gateway
    ussd.putChild(b"raises", Broken(gateway, in_handle=True))
    ussd.putChild(b"spell", Broken(gateway, in_handle=False))
    port.factory.routes.update(gateway_routes(port.factory.site.resource))
    post = b"POST /ussd/%s HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
    failures: list[Any] = []

    def observe(event: dict[str, Any]) -> None:
        if "log_failure" in event:
            failures.append(event["log_failure"].value)

    globalLogPublisher.addObserver(observe)
    try:
        for first in (b"", GET_HELLO):  # the lean protocol, then twisted.web
            data = first + post % b"raises" + post % b"spell" + hop("")
            got = await deferToThread(exchange, port, data, 3 if not first else 4)
            got = got[1:] if first else got
            assert [(s, b) for s, _, b in got[:2]] == [(500, b"internal error")] * 2
            assert got[2][0] == 200 and got[2][2].decode().startswith("CON ")
        assert sorted(str(f) for f in failures) == ["adapter bug"] * 2 + ["spelling bug"] * 2
    finally:
        globalLogPublisher.removeObserver(observe)


@pytest_twisted.ensureDeferred
async def test_requests_arriving_a_byte_at_a_time_are_read_whole(port: Port) -> None:
    protocol = port.factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    try:
        port.answered = answered = Deferred()
        for byte in hop("") + GET_HELLO:  # the gateway request, then another path
            protocol.dataReceived(bytes([byte]))
        await answered
        head, _, body = transport.value().partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and body.startswith("CON 欢迎".encode())
        assert port.dialogue.begins == 1
        # (this runs inside the first answer's write: one reactor turn lets the port go on)
        await task.deferLater(reactor, 0, lambda: None)
        # the second request went to twisted.web, re-framed, and was answered there
        assert transport.value().count(b"HTTP/1.1 200 OK") == 2
        assert transport.value().endswith(b"hello from twisted.web")
    finally:
        protocol.connectionLost(None)
