"""What every HTTP gateway resource shares: answer a hop in time, never with a 5xx.

A hop that runs past ``hop_timeout_s`` is answered with a "busy" notice before the gateway gives
up, while the hop itself carries on and is stored (a retry then gets the real reply). A bug or a
Redis error becomes an "error" notice (logged with its traceback). The wire adapter supplies how
to write a reply and a notice in its own format.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import parse_qs
from twisted.web.resource import Resource
from twisted.web.server import Request

from ussd.gateway import DialogueLike, HopReply, UssdGateway
from ussd.sessions import UssdSessionStore

log = Logger(namespace="hotline.ussd.http")

WriteReply = Callable[[Request, HopReply], bytes]


def serve_hop(
    request: Request,
    gateway: UssdGateway,
    clock: IReactorTime,
    hop_timeout_s: float,
    msisdn: str,
    hop: Coroutine[Any, Any, HopReply],
    write: WriteReply,
) -> None:
    """Run ``hop`` and write its reply (or a notice) to ``request`` exactly once."""
    state: dict[str, Any] = {"done": False, "gone": False}
    started = time.monotonic()

    def gone(_: Failure) -> None:
        state["gone"] = True  # the gateway hung up; the hop still completes and is stored

    request.notifyFinish().addErrback(gone)

    def finish(reply: HopReply) -> None:
        if state["done"]:
            return
        state["done"] = True
        if timer.active():
            timer.cancel()
        if state["gone"] or request.finished:
            return
        request.write(write(request, reply))
        request.finish()

    def on_timeout() -> None:
        log.warn("ussd hop over {s}s, answered with an apology", s=hop_timeout_s)
        gateway.record_event(msisdn, "-", "?", "busy", (time.monotonic() - started) * 1000)
        finish(HopReply(200, gateway.notice("busy"), "busy"))

    def on_error(failure: Failure) -> None:
        log.failure("ussd hop failed (session kept)", failure)
        gateway.record_event(msisdn, "-", "?", "error", (time.monotonic() - started) * 1000)
        finish(HopReply(200, gateway.notice("error"), "error"))

    timer = clock.callLater(hop_timeout_s, on_timeout)
    d = Deferred.fromCoroutine(hop)
    d.addCallbacks(finish, on_error)
    d.addErrback(lambda f: log.failure("ussd reply could not be written", f))


def plain(request: Request, status: int, body: str) -> bytes:
    """A ``text/plain`` UTF-8 body with an explicit length (simple gateway clients want it)."""
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    data = body.encode("utf-8")
    request.setHeader(b"content-length", str(len(data)).encode())
    return data


def default_clock(clock: IReactorTime | None) -> IReactorTime:
    if clock is None:
        from twisted.internet import reactor

        return reactor  # type: ignore[return-value]
    return clock


class GatewayResource(Resource):
    """What every USSD HTTP gateway resource holds: its ``UssdGateway`` (Redis namespace
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


FORM = b"application/x-www-form-urlencoded"


def form_fields(request: Any) -> dict[bytes, list[bytes]]:
    """Query string plus url-encoded body fields, parsed here rather than by Twisted.

    hotline's Site turns Twisted's own POST parsing off: it runs every request's Content-Type
    through ``email.message``, a fifth of a USSD hop's CPU. Reading ``request.args`` as well would
    count the body twice on a Site that still parses it, so this ignores it.
    """
    fields: dict[bytes, list[bytes]] = {}
    query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
    ctype = (request.getHeader(b"content-type") or b"").split(b";", 1)[0].strip().lower()
    body = b""
    if ctype == FORM and request.content is not None:
        request.content.seek(0)
        body = request.content.read()
        request.content.seek(0)
    for part in (query, body):
        if part:
            for key, values in parse_qs(part, 1).items():
                fields.setdefault(key, []).extend(values)
    return fields
