"""What every HTTP gateway adapter shares: answer a hop in time, never with a 5xx.

A hop that runs past ``hop_timeout_s`` is answered with a "busy" notice before the gateway gives
up, while the hop itself carries on and is stored (a retry then gets the real reply). A bug or a
Redis error becomes an "error" notice (logged with its traceback). The adapter supplies how to
spell a reply in its own format.

An adapter's ``handle`` takes a ``GatewayRequest`` and returns a ``GatewayResponse`` (or a
Deferred of one): ``ussd.httpport`` calls it directly; ``render`` lets twisted.web serve the
same adapter on a connection that also asks for other paths.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from menus.driver import DialogueLike
from ussd.decide import Outcome
from ussd.gateway import HopReply, UssdGateway
from ussd.inputs import InputKind
from ussd.sessions import UssdSessionStore
from ussd.wire import Answer, GatewayRequest, GatewayResponse, Handler, plain

log = Logger(namespace="hotline.ussd.http")


def answer_hop(
    gateway: UssdGateway,
    clock: IReactorTime,
    hop_timeout_s: float,
    msisdn: str,
    hop: Coroutine[Any, Any, HopReply],
    spell: Callable[[HopReply], GatewayResponse],
) -> Deferred[GatewayResponse]:
    """Run ``hop``; the result fires exactly once: its reply, or a busy or error notice."""
    answered: Deferred[GatewayResponse] = Deferred()
    started = time.monotonic()

    def finish(reply: HopReply) -> None:
        if answered.called:
            return
        if timer.active():
            timer.cancel()
        try:
            response = spell(reply)
        except Exception:
            answered.errback()  # the server answers its "internal error" and goes on
            return
        answered.callback(response)

    def on_timeout() -> None:
        log.warn("ussd hop over {s}s, answered with an apology", s=hop_timeout_s)
        ms = (time.monotonic() - started) * 1000
        gateway.record_event(msisdn, "-", InputKind.UNKNOWN, Outcome.BUSY, ms)
        finish(HopReply(200, gateway.notice("busy"), Outcome.BUSY))

    def on_error(failure: Failure) -> None:
        log.failure("ussd hop failed (session kept)", failure)
        ms = (time.monotonic() - started) * 1000
        gateway.record_event(msisdn, "-", InputKind.UNKNOWN, Outcome.ERROR, ms)
        finish(HopReply(200, gateway.notice("error"), Outcome.ERROR))

    timer = clock.callLater(hop_timeout_s, on_timeout)
    d = Deferred.fromCoroutine(hop)
    d.addCallbacks(finish, on_error)
    return answered


def default_clock(clock: IReactorTime | None) -> IReactorTime:
    if clock is None:
        from twisted.internet import reactor

        return reactor  # type: ignore[return-value]
    return clock


def gateway_request(request: Request) -> GatewayRequest:
    """twisted.web's request as the adapters see it."""
    path, _, query = request.uri.partition(b"?")
    raw_headers = request.requestHeaders.getAllRawHeaders()
    headers = {name.lower(): values[-1] for name, values in raw_headers}
    body = b""
    if request.content is not None:
        request.content.seek(0)
        body = request.content.read()
    return GatewayRequest(request.method, path, query, headers, body)


def write_response(request: Request, response: GatewayResponse) -> None:
    request.setResponseCode(response.status)
    request.setHeader(b"content-type", response.content_type)
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-length", b"%d" % len(response.body))
    request.write(response.body)
    request.finish()


class Adapter(Resource):
    """A gateway endpoint: ``handle`` answers; twisted.web reaches it through ``render``."""

    isLeaf = True

    def handle(self, request: GatewayRequest) -> Answer:
        raise NotImplementedError

    def routes(self, path: bytes) -> Iterator[tuple[bytes, Handler]]:
        """The paths this adapter answers when mounted at ``path`` (its own, by default)."""
        yield path, self.handle

    def render(self, request: Request) -> int:
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))  # the gateway hung up

        def write(response: GatewayResponse) -> None:
            if not gone and not request.finished:
                write_response(request, response)

        def failed(failure: Failure) -> None:
            log.failure("gateway adapter failed", failure)
            write(plain(500, "internal error"))

        d = maybeDeferred(self.handle, gateway_request(request))
        d.addCallbacks(write, failed)
        d.addErrback(lambda f: log.failure("ussd reply could not be written", f))
        return NOT_DONE_YET


class GatewayResource(Adapter):
    """What every USSD HTTP gateway adapter holds: its ``UssdGateway`` (Redis namespace
    ``gateway_name``), the clock, the hop deadline and the phone-number region."""

    gateway_name = ""

    def __init__(
        self,
        dialogue: DialogueLike,
        store: UssdSessionStore,
        menu_name: str = "booking",
        *,
        clock: IReactorTime | None = None,
        hop_timeout_s: float = 10.0,
        default_lang: str = "zh",
        region: str = "CN",
        gateway: UssdGateway | None = None,
        **gateway_options: Any,
    ) -> None:
        super().__init__()
        self.clock: IReactorTime = default_clock(clock)
        self.hop_timeout_s = hop_timeout_s
        self.region = region
        self.gateway = gateway or UssdGateway(
            dialogue, store, menu_name, gateway=self.gateway_name, default_lang=default_lang,
            clock=self.clock, **gateway_options,
        )
