"""``POST /ussd/at``: the Africa's Talking USSD callback convention (docs/ussd.md).

Form fields ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode``, ``text`` (all
inputs so far joined by ``*``; empty on the first hop). Replies are ``text/plain`` ``CON ...`` or
``END ...``. Malformed requests get 400 with a plain message; anything unexpected gets an ``END``
apology with 200 (a 5xx would only make the gateway show its own cryptic error).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import Request

from phone import NotAPhoneNumber, normalise_msisdn
from pii import mask_tail
from ussd.gateway import UssdGateway
from ussd.httpbase import Adapter, GatewayResource, answer_hop
from ussd.inputs import dialed_entry
from ussd.wire import Answer, GatewayRequest, Handler, plain

log = Logger(namespace="hotline.ussd.at")

MAX_FIELD = 200
MAX_TEXT = 1000
_FIELDS = ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text")


class BadRequest(ValueError):
    """The request is not a USSD hop we can read; the message is safe to send back."""


def form_msisdn(raw: str, region: str = "CN") -> str:
    """A gateway's phone number field → ``phone.normalise_msisdn``; BadRequest when it is not
    a valid phone number."""
    try:
        return normalise_msisdn(raw, region)
    except NotAPhoneNumber as exc:
        raise BadRequest(f"phoneNumber {exc}") from exc


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
    form["msisdn"] = form_msisdn(form["phoneNumber"], region)
    return form


class AtUssdResource(GatewayResource):
    """The AT callback. ``hop_timeout_s`` answers an apology before the gateway gives up (15 s)
    while the hop itself carries on and is stored, so nothing is half-done."""

    isLeaf = False  # /ussd/at itself, plus /ussd/at/end (the end-of-session notification)
    gateway_name = "at"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.end = AtUssdEndResource(self.gateway)

    def routes(self, path: bytes) -> Iterator[tuple[bytes, Handler]]:
        yield from super().routes(path)
        yield from self.end.routes(path + b"/end")

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self
        if path == b"end" and not request.postpath:
            return self.end
        return _NotFound()

    def handle(self, request: GatewayRequest) -> Answer:
        if request.method != b"POST":
            return plain(400, "use POST with form fields sessionId, phoneNumber, text")
        try:
            form = parse_form(request.form_fields(), self.region)
        except BadRequest as exc:
            return plain(400, str(exc))
        hop = self.gateway.hop(form["sessionId"], form["msisdn"], form["text"],
                               entry=dialed_entry(form["serviceCode"]))
        return answer_hop(self.gateway, self.clock, self.hop_timeout_s, form["msisdn"], hop,
                          lambda reply: plain(reply.status, reply.body))


class _NotFound(Adapter):
    def handle(self, request: GatewayRequest) -> Answer:
        return plain(404, "no such USSD endpoint (use /ussd/at or /ussd/at/end)")


class AtUssdEndResource(Adapter):
    """``POST /ussd/at/end``: the gateway's end-of-session notification (sessionId, phoneNumber,
    status Success|Incomplete|Failed, durationInSeconds, errorMessage). It is logged (a Failed
    status means the gateway blamed us). The record stays: a caller whose dialogue broke off may
    redial and continue; only this node's cached copy is dropped."""

    def __init__(self, gateway: UssdGateway) -> None:
        super().__init__()
        self.gateway = gateway

    def handle(self, request: GatewayRequest) -> Answer:
        if request.method != b"POST":
            return plain(400, "use POST with form fields sessionId, status")
        args = request.form_fields()
        try:
            fields = {
                name: (args.get(name.encode()) or [b""])[0].decode("utf-8")[:MAX_FIELD]
                for name in ("sessionId", "phoneNumber", "status", "durationInSeconds",
                             "errorMessage")
            }
        except UnicodeDecodeError:
            return plain(400, "fields must be UTF-8")
        if not fields["sessionId"]:
            return plain(400, "missing sessionId")
        failed = fields["status"] == "Failed"
        emit = log.warn if failed else log.info
        emit(
            "ussd session end session={sid} msisdn={msisdn} status={status} seconds={secs} "
            "error={error}",
            sid=fields["sessionId"][-12:], msisdn=mask_tail(fields["phoneNumber"]),
            status=fields["status"] or "?", secs=fields["durationInSeconds"] or "?",
            error=fields["errorMessage"] or "-",
        )
        try:
            msisdn = form_msisdn(fields["phoneNumber"]) if fields["phoneNumber"] else ""
        except BadRequest:
            msisdn = ""
        if msisdn:
            self.gateway.store.forget(self.gateway.gateway, msisdn)
        return plain(200, "OK")
