"""The HTTP port: USSD gateway connections on a lean HTTP/1.1 protocol, the rest on twisted.web.

Why: twisted.web's request handling, all in Python, was a large share of a whole USSD hop
before this protocol; httptools, the binding of Node's llhttp parser, reads the same request
for a small fraction of that (bench/RESULTS.md, ussd_http: bench/ussd_http.py prints
both). Gateways send one small POST after another on kept-alive connections, so their
connections are the ones worth serving leanly.

How a connection is routed: its first request line decides. A target that is a gateway route
(``/ussd/at``, ``/ussd/at/end``, ``/ussd/hubtel``, with or without a query or a trailing slash)
makes it a gateway connection: httptools reads its requests and the adapters answer them one at
a time, in order (pipelined requests wait their turn). Any other first request hands the
connection to twisted.web's ``HTTPChannel``, bytes as received. A gateway connection that later
asks for another path is handed over at that request: from then on each request it sends is
re-framed (one ``content-length`` body) and passed to ``HTTPChannel``, so the kiosk API, admin,
metrics and health answer exactly as they do on their own connections.

Limits on a gateway connection: a request line and headers up to ``MAX_HEAD`` bytes (431),
a body up to ``MAX_BODY`` (413), malformed HTTP (400); each answer closes the connection. A
protocol upgrade is not made: the request is answered as plain HTTP, then the connection closed.
An idle connection is closed after ``idle_timeout_s``; one whose hop is running never is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httptools
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure
from twisted.web.http import RESPONSES, datetimeToString
from twisted.web.server import Site

from ivr.sendnow import write_now
from ussd.wire import GatewayRequest, GatewayResponse, Handler, plain

log = Logger(namespace="hotline.httpport")

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024
MAX_QUEUED = 8  # pipelined requests read ahead before the socket is paused


class _Refused(Exception):
    """Raised inside a parser callback: the request breaks a limit (answered, then closed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = plain(status, message)


@dataclass(frozen=True, slots=True)
class _Message:
    request: GatewayRequest
    target: bytes  # the request target as sent (path and query)
    version: str
    header_list: tuple[tuple[bytes, bytes], ...]
    keep_alive: bool


def route_of(target: bytes) -> bytes:
    """The path a route table is keyed by: no query, no trailing slash."""
    path = target.split(b"?", 1)[0]
    return path[:-1] if len(path) > 1 and path.endswith(b"/") else path


def reframe(message: _Message) -> bytes:
    """The request as bytes for ``HTTPChannel``: same line and headers, a plain-length body."""
    skip = {b"content-length", b"transfer-encoding", b"expect"}
    request = message.request
    lines = [b"%s %s HTTP/%s" % (request.method, message.target, message.version.encode())]
    lines += [name + b": " + value for name, value in message.header_list
              if name.lower() not in skip]
    lines.append(b"content-length: %d" % len(request.body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + request.body


class GatewayHttp(Protocol, TimeoutMixin):
    """One connection of the HTTP port (see the module docstring for the routing)."""

    factory: GatewayHttpFactory

    def __init__(self) -> None:
        self._mode = "sniff"  # sniff -> web, or sniff -> gateway (-> proxy)
        self._head = b""
        self._web: Any = None
        self._parser: httptools.HttpRequestParser | None = None
        self._queue: deque[_Message] = deque()
        self._refused: GatewayResponse | None = None  # answered once the queue is done
        self._busy = False
        self._pumping = False
        self._paused = False
        self._lost = False
        self._reset_message()

    # -- connection ---------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.callLater = self.factory.clock.callLater
        self.setTimeout(self.factory.idle_timeout_s)

    def dataReceived(self, data: bytes) -> None:
        if self._mode == "web":  # twisted.web from the first byte: its bytes as received
            self._web.dataReceived(data)
            return
        if self._mode == "sniff":
            data = self._sniff(data)
            if not data:
                return
        self.resetTimeout()
        if self._parser is None or self._refused is not None:
            return  # refused: nothing more is read
        try:
            self._parser.feed_data(data)
        except _Refused as exc:
            self._refused = exc.response
        except httptools.HttpParserUpgrade:  # its request is answered, then we close: what
            if self._queue:  # follows would be another protocol, which is not served here
                self._queue.append(replace(self._queue.pop(), keep_alive=False))
        except httptools.HttpParserError as exc:
            cause = exc.__context__ if isinstance(exc.__context__, _Refused) else None
            self._refused = cause.response if cause else plain(400, f"malformed HTTP: {exc}")
        self._pump()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._lost = True
        self.setTimeout(None)
        if self._web is not None:
            self._web.connectionLost(reason)

    def timeoutConnection(self) -> None:
        if self._busy or self._queue:
            self.setTimeout(self.factory.idle_timeout_s)  # a hop is running: not idle
            return
        self.transport.loseConnection()

    def _sniff(self, data: bytes) -> bytes:
        """Buffer until the first request line is in; return what the parser should read."""
        self._head += data
        eol = self._head.find(b"\n")
        if eol < 0 and len(self._head) <= MAX_HEAD:
            return b""
        parts = self._head[: max(eol, 0)].split(b" ")
        head, self._head = self._head, b""
        if eol >= 0 and len(parts) == 3 and route_of(parts[1]) in self.factory.routes:
            self._mode = "gateway"
            self._parser = httptools.HttpRequestParser(self)
            return head
        self._hand_over(head, "web")
        return b""

    def _hand_over(self, data: bytes, mode: str) -> None:
        """twisted.web serves the rest of this connection, starting with ``data``: in ``web``
        mode the bytes as received, in ``proxy`` mode (after gateway requests) each request
        re-framed by ``reframe`` as httptools reads it."""
        self.setTimeout(None)
        self._mode = mode
        self._web = self.factory.site.buildProtocol(self.transport.getPeer())
        self._web.makeConnection(self.transport)
        if data:
            self._web.dataReceived(data)

    # -- httptools callbacks ------------------------------------------------------------------

    def _reset_message(self) -> None:
        self._target = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0

    def on_message_begin(self) -> None:
        self._reset_message()

    def on_url(self, url: bytes) -> None:
        self._target += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        expects = any(n.lower() == b"expect" and v.lower() == b"100-continue"
                      for n, v in self._headers)
        if expects and not (self._busy or self._queue) and self._nothing_answering():
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _nothing_answering(self) -> bool:
        """No answer is being written, so a 100 Continue cannot land inside one. After a
        handover twisted.web answers, and gets the request only once its body is here (it
        is re-framed without the Expect header): its channel's ``requests`` are those still
        open (the channel sits behind Twisted's HTTP/2-negotiating wrapper; if that changes,
        no 100 is sent and the client sends its body after its own wait)."""
        if self._mode == "gateway":
            return True
        channel = getattr(self._web, "_channel", self._web)
        return self._mode == "proxy" and not getattr(channel, "requests", True)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY:
            raise _Refused(413, f"request body larger than {MAX_BODY} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._parser is not None
        path, _, query = self._target.partition(b"?")
        headers = {name.lower(): value for name, value in self._headers}
        request = GatewayRequest(self._parser.get_method(), path, query, headers,
                                 b"".join(self._body))
        self._queue.append(_Message(request, self._target, self._parser.get_http_version(),
                                    tuple(self._headers), self._parser.should_keep_alive()))
        if len(self._queue) > MAX_QUEUED and not self._paused:
            self._paused = True
            self.transport.pauseProducing()

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD:
            raise _Refused(431, f"request line and headers larger than {MAX_HEAD} bytes")

    # -- answering ----------------------------------------------------------------------------

    def _pump(self) -> None:
        """Answer queued requests in order; a Deferred answer resumes the pump when it fires."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while not self._busy and not self._lost:
                if self._queue:
                    self._next(self._queue.popleft())
                elif self._refused is not None:
                    self._write(self._refused, keep_alive=False, path=b"/")
                    self._refused = None
                else:
                    break
            if self._paused and len(self._queue) < MAX_QUEUED // 2 and not self._lost:
                self._paused = False
                self.transport.resumeProducing()
        finally:
            self._pumping = False

    def _next(self, message: _Message) -> None:
        if self._mode == "proxy":
            self._web.dataReceived(reframe(message))
            return
        request = message.request
        handler = self.factory.routes.get(route_of(request.path))
        if handler is None:  # another path on a gateway connection: twisted.web from here on
            self._hand_over(reframe(message), "proxy")
            return
        self._busy = True
        try:
            answer = handler(request)
        except Exception:
            log.failure("gateway handler failed")
            answer = plain(500, "internal error")
        if isinstance(answer, Deferred):
            answer.addErrback(self._failed)
            answer.addCallback(self._answered, message)
            answer.addErrback(lambda f: log.failure("gateway answer could not be written", f))
        else:
            self._answered(answer, message)

    def _failed(self, failure: Failure) -> GatewayResponse:
        log.failure("gateway handler failed", failure)
        return plain(500, "internal error")

    def _answered(self, response: GatewayResponse, message: _Message) -> None:
        self._busy = False
        if self._lost:
            return  # the gateway hung up; the hop itself completed and was stored
        self._write(response, message.keep_alive, message.request.path,
                    head_only=message.request.method == b"HEAD")
        self._pump()

    def _write(self, response: GatewayResponse, keep_alive: bool, path: bytes,
               head_only: bool = False) -> None:
        reason = RESPONSES.get(response.status, b"Unknown")
        head = (b"HTTP/1.1 %d %s\r\ndate: %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
                b"cache-control: no-store\r\n%s\r\n") % (
            response.status, reason, self.factory.date(), response.content_type,
            len(response.body), b"" if keep_alive else b"connection: close\r\n")
        # at once, not at the end of the turn (ivr.sendnow): the gateway is waiting for it
        write_now(self.transport, head if head_only else head + response.body)
        self.resetTimeout()
        if self.factory.count is not None:
            self.factory.count(path, response.status)
        if not keep_alive:
            self._lost = True  # nothing more is answered on this connection
            self.transport.loseConnection()


class GatewayHttpFactory(Factory):
    """The HTTP port's factory: ``routes`` (path → adapter ``handle``) served leanly, ``site``
    for everything else. ``count(path, status)`` counts each lean answer (the metrics)."""

    protocol = GatewayHttp
    noisy = False  # no "Starting factory" line per listening port, as with Site

    def __init__(
        self,
        site: Site,
        routes: Mapping[bytes, Handler],
        *,
        clock: Any = None,
        idle_timeout_s: float = 75.0,
        count: Callable[[bytes, int], None] | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.site = site
        self.routes = dict(routes)
        self.clock = clock
        self.idle_timeout_s = idle_timeout_s
        self.count = count
        self._date_second = -1
        self._date = b""

    def date(self) -> bytes:
        """The ``date`` header, formatted once a second."""
        now = int(self.clock.seconds())
        if now != self._date_second:
            self._date_second, self._date = now, datetimeToString(now)
        return self._date

    def startFactory(self) -> None:
        self.site.doStart()

    def stopFactory(self) -> None:
        self.site.doStop()
