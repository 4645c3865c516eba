"""The HTTP port: every request read by httptools, answered by twisted.web or, on the fast path,
by the USSD gateway adapters directly.

Why: the port's limits and deadlines below must hold for every request, and twisted.web has
neither a body limit nor deadlines that slow bytes cannot push back; httptools, the binding of
Node's llhttp parser, reads each request first on both paths. With the fast path's ``http`` piece
on (``fastpath``), gateway connections, one small POST after another on kept-alive
connections, are answered here without twisted.web (bench/RESULTS.md, "Fast path").

Every connection is read by httptools, so the limits and timeouts below hold for every request
on the port, whoever answers it. With the fast path off, the first request of each connection
hands it to twisted.web's ``HTTPChannel``: from then on each request, once read whole, is
re-framed (one ``content-length`` body) and passed to it. On the fast path, requests to a
gateway route (``/ussd/at``, ``/ussd/at/end``, ``/ussd/hubtel``, with or without a query or a
trailing slash) are answered by the adapters, one at a time, in order (pipelined requests wait
their turn); the first request to any other path hands the connection over. So the kiosk API,
admin, metrics and health (and, off the fast path, the gateways) answer exactly as twisted.web
answers.

Limits: a request line and headers up to ``MAX_HEAD`` bytes (431); a body up to
``max_body_bytes`` (413, at once when ``content-length`` declares more: the body is not waited
for); malformed HTTP (400). Timeouts, each a deadline that later bytes do not push back: the
request line and headers within ``header_timeout_s`` of the request's first byte (of the
connection, for its first request), the body within ``body_timeout_s`` of the headers (408).
Each refusal is answered after the requests read before it, then the connection is closed. A
protocol upgrade is not made: the request is answered as plain HTTP, then the connection closed.
A kept-alive connection idle for ``keepalive_timeout_s`` is closed (twisted.web's own idle
timeout, set to the same value, after a handover); one whose hop is running never is.
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

from fastpath import enabled
from fastpath.send import write_now
from ussd.wire import GatewayRequest, GatewayResponse, Handler, plain

log = Logger(namespace="ussd.httpport")

MAX_HEAD = 16 * 1024
MAX_BODY = 64 * 1024  # the default of max_body_bytes
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
    """The request as bytes for ``HTTPChannel``: same line and headers, a plain-length body;
    ``connection: close`` when this is the connection's last (an upgrade is not made)."""
    skip = {b"content-length", b"transfer-encoding", b"expect"}
    if not message.keep_alive:
        skip |= {b"connection", b"upgrade"}
    request = message.request
    lines = [b"%s %s HTTP/%s" % (request.method, message.target, message.version.encode())]
    lines += [name + b": " + value for name, value in message.header_list
              if name.lower() not in skip]
    if not message.keep_alive:
        lines.append(b"connection: close")
    lines.append(b"content-length: %d" % len(request.body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + request.body


class GatewayHttp(Protocol, TimeoutMixin):
    """One connection of the HTTP port (see the module docstring for the routing)."""

    factory: GatewayHttpFactory

    def __init__(self) -> None:
        self._mode = "gateway"  # gateway -> proxy (twisted.web answers from then on)
        self._web: Any = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[_Message] = deque()
        self._refused: GatewayResponse | None = None  # answered once the queue is done
        self._reading = True  # a request (or, on a new connection, the first) is being read
        self._busy = False
        self._pumping = False
        self._paused = False
        self._lost = False
        self._deadline: float | None = None
        self._deadline_timer: Any = None
        self._reset_message()

    # -- connection ---------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.callLater = self.factory.clock.callLater
        self.setTimeout(self.factory.header_timeout_s)

    def setTimeout(self, period: float | None) -> None:  # type: ignore[override]
        """Set the connection's one deadline (None: none), kept lazily: the timer is moved only
        when a deadline comes sooner than the one it waits for, and when it fires before a
        deadline that was pushed back, it waits again for that one. ``TimeoutMixin`` re-arms
        a ``DelayedCall`` on every call, several times a request; a kept-alive gateway
        connection now touches its timer about once per timeout instead."""
        if period is None:
            self._deadline = None
            return
        clock = self.factory.clock
        self._deadline = clock.seconds() + period
        timer = self._deadline_timer
        if timer is None or not timer.active():
            self._deadline_timer = clock.callLater(period, self._deadline_reached)
        elif timer.getTime() > self._deadline:
            timer.reset(period)

    def _deadline_reached(self) -> None:
        self._deadline_timer = None
        if self._deadline is None or self._lost:
            return
        left = self._deadline - self.factory.clock.seconds()
        if left > 0:  # pushed back since the timer was set
            self._deadline_timer = self.factory.clock.callLater(left, self._deadline_reached)
            return
        self._deadline = None
        self.timeoutConnection()

    def dataReceived(self, data: bytes) -> None:
        if self._refused is not None or self._lost:
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
        if self._deadline_timer is not None and self._deadline_timer.active():
            self._deadline_timer.cancel()
        self._deadline_timer = None
        if self._web is not None:
            self._web.connectionLost(reason)

    def timeoutConnection(self) -> None:
        """A deadline passed: a request not read whole in time gets 408 (after the requests
        before it); an idle connection is closed; one whose hop is running is not idle."""
        if self._reading:
            if self._refused is None:
                self._refused = plain(408, "request not received in time")
            self._pump()
        elif self._busy or self._queue:
            self.setTimeout(self.factory.keepalive_timeout_s)
        elif self._mode == "gateway":
            self.transport.loseConnection()

    def _hand_over(self, data: bytes) -> None:
        """twisted.web serves the rest of this connection, starting with ``data``; each request
        after it is re-framed by ``reframe`` once httptools has read it."""
        if not self._reading:  # twisted.web's idle timeout from here; ours only while reading
            self.setTimeout(None)
        self._mode = "proxy"
        self._web = self.factory.site.buildProtocol(self.transport.getPeer())
        channel = self._web_channel()
        channel.callLater = self.factory.clock.callLater
        done = channel.requestDone

        def request_done(request: Any) -> None:  # a refusal waits until twisted.web answered
            done(request)
            if self._refused is not None:
                self._pump()

        channel.requestDone = request_done
        self._web.makeConnection(self.transport)
        if data:
            self._web.dataReceived(data)

    def _web_channel(self) -> Any:
        return getattr(self._web, "_channel", self._web)

    # -- httptools callbacks ------------------------------------------------------------------

    def _reset_message(self) -> None:
        self._target = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._body: list[bytes] = []
        self._body_size = 0

    def on_message_begin(self) -> None:
        self._reset_message()
        if not self._reading:  # a new request: its head is due within header_timeout_s
            self._reading = True
            self.setTimeout(self.factory.header_timeout_s)
            if self._mode == "proxy":  # twisted.web's idle timer must not close it meanwhile
                self._web_channel().resetTimeout()

    def on_url(self, url: bytes) -> None:
        self._target += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        self._count_head(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        limit = self.factory.max_body_bytes
        for name, value in self._headers:
            if name.lower() == b"content-length" and int(value) > limit:
                raise _Refused(413, f"request body larger than {limit} bytes")
        self.setTimeout(self.factory.body_timeout_s)
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
        return self._mode == "gateway" or not getattr(self._web_channel(), "requests", True)

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self.factory.max_body_bytes:  # chunked: no length declared
            raise _Refused(413, f"request body larger than {self.factory.max_body_bytes} bytes")
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._reading = False
        if self._mode == "proxy":
            self.setTimeout(None)
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
                    if self._mode == "proxy" and self._web_channel().requests:
                        break  # twisted.web is still answering; request_done pumps again
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
        handler = self.factory.routes.get(route_of(request.path)) if self.factory.lean else None
        if handler is None:  # another path on a gateway connection: twisted.web from here on
            self._hand_over(reframe(message))
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
        # at once, not at the end of the turn (fastpath.send): the gateway is waiting for it
        write_now(self.transport, head if head_only else head + response.body)
        if not self._reading:  # idle from now; a request being read keeps its deadline
            self.setTimeout(self.factory.keepalive_timeout_s)
        if self.factory.count is not None:
            self.factory.count(path, response.status)
        if not keep_alive:
            self._lost = True  # nothing more is answered on this connection
            self.transport.loseConnection()


class GatewayHttpFactory(Factory):
    """The HTTP port's factory: ``routes`` (path → adapter ``handle``) served leanly when
    ``lean`` (default: the fast path's ``http`` piece is on), ``site`` for everything else.
    ``count(path, status)`` counts each answer not given by twisted.web (the metrics)."""

    protocol = GatewayHttp
    noisy = False  # no "Starting factory" line per listening port, as with Site

    def __init__(
        self,
        site: Site,
        routes: Mapping[bytes, Handler],
        *,
        clock: Any = None,
        keepalive_timeout_s: float = 75.0,
        header_timeout_s: float = 10.0,
        body_timeout_s: float = 10.0,
        max_body_bytes: int = MAX_BODY,
        count: Callable[[bytes, int], None] | None = None,
        lean: bool | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.site = site
        site.timeOut = keepalive_timeout_s  # twisted.web's idle timeout, after a handover
        self.routes = dict(routes)
        self.lean = enabled("http") if lean is None else lean
        self.clock = clock
        self.keepalive_timeout_s = keepalive_timeout_s
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes
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
