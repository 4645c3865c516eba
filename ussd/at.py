"""``POST /ussd/at``: the Africa's Talking USSD callback convention (docs/ussd.md).

Form fields ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode``, ``text`` (all
inputs so far joined by ``*``; empty on the first hop). Replies are ``text/plain`` ``CON ...`` or
``END ...``. Malformed requests get 400 with a plain message; anything unexpected gets an ``END``
apology with 200 (a 5xx would only make the gateway show its own cryptic error).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import phonenumbers
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from ussd.gateway import DialogueLike, HopReply, UssdGateway, mask
from ussd.sessions import UssdSessionStore

log = Logger(namespace="hotline.ussd.at")

MAX_FIELD = 200
MAX_TEXT = 1000
_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")


class BadRequest(ValueError):
    """The request is not a USSD hop we can read; the message is safe to send back."""


def normalise_msisdn(raw: str, region: str = "CN") -> str:
    """E.164 digits without '+' (``+86 138-0013-8000`` and ``13800138000`` both give 86138...)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise BadRequest("phoneNumber is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise BadRequest("phoneNumber is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def parse_form(args: Mapping[bytes, list[bytes]], region: str = "CN") -> dict[str, str]:
    """The hop's fields, decoded and checked; raises BadRequest with a clear message."""
    form: dict[str, str] = {}
    for name in _FIELDS:
        values = args.get(name.encode(), [])
        if len(values) > 1:
            raise BadRequest(f"{name} given more than once")
        try:
            value = values[0].decode("utf-8") if values else ""
        except UnicodeDecodeError as exc:
            raise BadRequest(f"{name} is not valid UTF-8") from exc
        limit = MAX_TEXT if name == "text" else MAX_FIELD
        if len(value) > limit:
            raise BadRequest(f"{name} is longer than {limit} characters")
        form[name] = value
    for name in ("sessionId", "phoneNumber"):
        if not form[name].strip():
            raise BadRequest(f"missing {name}")
    form["msisdn"] = normalise_msisdn(form["phoneNumber"], region)
    return form


class AtUssdResource(Resource):
    """The AT callback. ``hop_timeout_s`` answers an apology before the gateway gives up (15 s)
    while the hop itself carries on and is stored, so nothing is half-done."""

    isLeaf = False  # /ussd/at itself, plus /ussd/at/end (the end-of-session notification)

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
    ) -> None:
        super().__init__()
        if clock is None:
            from twisted.internet import reactor

            clock = reactor  # type: ignore[assignment]
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self.hop_timeout_s = hop_timeout_s
        self.region = region
        self.gateway = UssdGateway(
            dialogue, store, menu_name, gateway="at", default_lang=default_lang
        )
        self.end = AtUssdEndResource(store)

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self
        if path == b"end" and not request.postpath:
            return self.end
        return _NotFound()

    def render(self, request: Request) -> bytes | int:
        if request.method != b"POST":
            return _plain(request, 400, "use POST with form fields sessionId, phoneNumber, text")
        try:
            form = parse_form(request.args or {}, self.region)
        except BadRequest as exc:
            return _plain(request, 400, str(exc))
        self._answer(request, form)
        return NOT_DONE_YET

    def _answer(self, request: Request, form: dict[str, str]) -> None:
        state: dict[str, Any] = {"done": False, "gone": False}

        def gone(_: Failure) -> None:
            state["gone"] = True  # the gateway hung up; the hop still completes and is stored

        request.notifyFinish().addErrback(gone)

        def finish(status: int, body: str) -> None:
            if state["done"]:
                return
            state["done"] = True
            if state.get("timer") is not None and state["timer"].active():
                state["timer"].cancel()
            if state["gone"] or request.finished:
                return
            request.write(_plain(request, status, body))
            request.finish()

        def on_timeout() -> None:
            log.warn("ussd hop over {s}s, answered with an apology", s=self.hop_timeout_s)
            finish(200, self.gateway.notice("busy"))

        def on_reply(reply: HopReply) -> None:
            finish(reply.status, reply.body)

        def on_error(failure: Failure) -> None:
            log.failure("ussd hop failed (session kept)", failure)
            finish(200, self.gateway.notice("error"))

        timer: IDelayedCall = self.clock.callLater(self.hop_timeout_s, on_timeout)
        state["timer"] = timer
        d = Deferred.fromCoroutine(
            self.gateway.hop(form["sessionId"], form["msisdn"], form["text"])
        )
        d.addCallbacks(on_reply, on_error)
        d.addErrback(lambda f: log.failure("ussd reply could not be written", f))


class _NotFound(Resource):
    isLeaf = True

    def render(self, request: Request) -> bytes:
        return _plain(request, 404, "no such USSD endpoint (use /ussd/at or /ussd/at/end)")


def _plain(request: Request, status: int, body: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    data = body.encode("utf-8")
    # an explicit length (not chunked encoding) suits the simplest gateway HTTP clients
    request.setHeader(b"content-length", str(len(data)).encode())
    return data


class AtUssdEndResource(Resource):
    """``POST /ussd/at/end``: the gateway's end-of-session notification (sessionId, phoneNumber,
    status Success|Incomplete|Failed, durationInSeconds, errorMessage). It is logged (a Failed
    status means the gateway blamed us) and the session record is dropped early: no hop follows."""

    isLeaf = True

    def __init__(self, store: UssdSessionStore) -> None:
        super().__init__()
        self.store = store

    def render(self, request: Request) -> bytes | int:
        if request.method != b"POST":
            return _plain(request, 400, "use POST with form fields sessionId, status")
        args = request.args or {}
        try:
            fields = {
                name: (args.get(name.encode()) or [b""])[0].decode("utf-8")[:MAX_FIELD]
                for name in ("sessionId", "phoneNumber", "status", "durationInSeconds",
                             "errorMessage")
            }
        except UnicodeDecodeError:
            return _plain(request, 400, "fields must be UTF-8")
        if not fields["sessionId"]:
            return _plain(request, 400, "missing sessionId")
        failed = fields["status"] == "Failed"
        emit = log.warn if failed else log.info
        emit(
            "ussd session end session={sid} msisdn={msisdn} status={status} seconds={secs} "
            "error={error}",
            sid=fields["sessionId"][-12:], msisdn=mask(fields["phoneNumber"]),
            status=fields["status"] or "?", secs=fields["durationInSeconds"] or "?",
            error=fields["errorMessage"] or "-",
        )

        def done(_: object) -> None:
            if not request.finished:
                request.write(_plain(request, 200, "OK"))
                request.finish()

        def failed_delete(failure: Failure) -> None:
            log.failure("ussd session end: could not drop the record", failure)
            done(None)

        d = Deferred.fromCoroutine(self.store.delete("at", fields["sessionId"]))
        d.addCallbacks(done, failed_delete)
        return NOT_DONE_YET


AfricasTalkingResource = AtUssdResource  # the name the composition root uses
