"""The HTTP side that is not a USSD gateway: kiosk API and health.

Kiosk contract (docs/architecture.md): ``POST /api/kiosk/verify`` and ``POST /api/kiosk/check-in``
with JSON ``{"tcode": "...", "kiosk_id": "..."}`` → ``{"booking": {...}}`` with the ID and phone
masked, or ``{"error": {"code", "message"}}``. A forged and a mistyped code get the same answer.
Wrong codes are limited per kiosk, per client address (``hotline.clientaddr``) and per hospital
(booking's ``kiosk_lookup``): over a limit, 429 with ``Retry-After``. When kiosks are registered
(``kiosk.ids``, ``kiosk.secrets``) any other kiosk, or a wrong secret, gets 403.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import Booking, BookingError, BookingService, RateLimited
from hotline import metrics
from hotline.clientaddr import Network, client_address, parse_networks
from pii import mask_tail

log = Logger()

MAX_BODY = 4096
ERROR_STATUS = {
    "bad_request": 400,
    "forbidden": 403,
    "not_found": 404,
    "not_today": 409,
    "already_checked_in": 409,
    "cancelled": 410,
    "rate_limited": 429,
}


def booking_json(booking: Booking) -> dict[str, Any]:
    """What a kiosk may print: no full ID or phone number."""
    return {
        "tcode": booking.tcode,
        "department": dict(booking.dept_name),
        "day": booking.day.isoformat(),
        "session": booking.session,
        "session_name": dict(booking.session_label),
        "id_number": mask_tail(booking.id_number),
        "phone": mask_tail(booking.msisdn),
        "status": booking.status.value,
        "channel": booking.channel,
        "checked_in_at": booking.checked_in_at,
    }


def write_json(request: Request, status: int, body: dict[str, Any]) -> None:
    if request.finished or request._disconnected:  # type: ignore[attr-defined]
        return
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.write(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    request.finish()


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or BookingError('bad_request') with a precise message."""
    raw = request.content.read(MAX_BODY + 1) if request.content else b""
    if len(raw) > MAX_BODY:
        raise BookingError("bad_request", f"body larger than {MAX_BODY} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BookingError("bad_request", f"body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BookingError("bad_request", "body must be a JSON object")
    return data


Handler = Callable[[dict[str, Any], Request], Awaitable[dict[str, Any]]]


class JsonEndpoint(Resource):
    """POST-only JSON endpoint running ``handler(body, request) -> dict`` asynchronously."""

    isLeaf = True

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    def render_POST(self, request: Request) -> object:
        async def run() -> None:
            try:
                body = read_json(request)
                write_json(request, 200, await self.handler(body, request))
            except BookingError as exc:
                status = ERROR_STATUS.get(exc.code, 400)
                answer = error_body(exc.code, exc.message)
                if isinstance(exc, RateLimited):
                    request.setHeader(b"retry-after", b"%d" % exc.retry_after_s)
                    answer["error"]["retry_after_s"] = exc.retry_after_s
                write_json(request, status, answer)
            except Exception:
                log.failure("http.unhandled")
                body = error_body("internal", "internal error, nothing was changed")
                write_json(request, 500, body)

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET

    def render_GET(self, request: Request) -> bytes:
        request.setResponseCode(405)
        request.setHeader(b"allow", b"POST")
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return json.dumps(error_body("method_not_allowed", "use POST")).encode()


def _kiosk_fields(body: dict[str, Any]) -> tuple[str, str]:
    tcode, kiosk_id = body.get("tcode"), body.get("kiosk_id")
    if not isinstance(tcode, str) or not isinstance(kiosk_id, str) or not kiosk_id.strip():
        raise BookingError("bad_request", "fields 'tcode' and 'kiosk_id' (strings) are required")
    return tcode.strip(), kiosk_id.strip()[:64]


@dataclass(frozen=True, slots=True)
class KioskAccess:
    """Which kiosks may ask (``kiosk.ids``, ``kiosk.secrets``; neither: any ``kiosk_id``) and
    which peers' ``X-Forwarded-For`` is believed (``http.trusted_proxies``)."""

    ids: frozenset[str] | None = None
    secrets: Mapping[str, bytes] = field(default_factory=dict)
    trusted_proxies: Sequence[Network] = ()

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any]) -> KioskAccess:
        """From the merged settings; ValueError naming the key when one is malformed."""
        kiosk = raw.get("kiosk") or {}
        ids, secrets = kiosk.get("ids"), kiosk.get("secrets")
        if ids is not None and not (isinstance(ids, list)
                                    and all(isinstance(i, str) and i.strip() for i in ids)):
            raise ValueError(f"kiosk.ids must be a list of kiosk ids (strings), got {ids!r}")
        if secrets is not None and not (
            isinstance(secrets, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) and v for k, v in secrets.items())
        ):
            raise ValueError("kiosk.secrets must map each kiosk id to a non-empty secret string")
        registered = {i.strip() for i in ids or ()} | {k.strip() for k in secrets or {}}
        return cls(
            ids=frozenset(registered) if registered else None,
            secrets={k.strip(): v.encode("utf-8") for k, v in (secrets or {}).items()},
            trusted_proxies=parse_networks(raw.get("http", {}).get("trusted_proxies")),
        )

    def admits(self, kiosk_id: str, secret: bytes | None) -> bool:
        """A registered kiosk with its secret, if it has one (compared in constant time)."""
        if self.ids is None:
            return True
        if kiosk_id not in self.ids:
            return False
        expected = self.secrets.get(kiosk_id)
        return expected is None or hmac.compare_digest(expected, secret or b"")

    def client(self, request: Request) -> str:
        peer = request.getClientAddress()
        forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for") or []
        return client_address(str(getattr(peer, "host", peer)), forwarded, self.trusted_proxies)


KIOSK_SECRET_HEADER = b"x-kiosk-secret"
FORBIDDEN = "Unknown kiosk or wrong kiosk secret."


def kiosk_resource(booking: BookingService, access: KioskAccess | None = None) -> Resource:
    access = access or KioskAccess()

    def admitted(body: dict[str, Any], request: Request) -> tuple[str, str, str]:
        tcode, kiosk = _kiosk_fields(body)
        if not access.admits(kiosk, request.getHeader(KIOSK_SECRET_HEADER)):
            raise BookingError("forbidden", FORBIDDEN)
        return tcode, kiosk, access.client(request)

    async def verify(body: dict[str, Any], request: Request) -> dict[str, Any]:
        tcode, kiosk, client = admitted(body, request)
        return {"booking": booking_json(await booking.verify(tcode, kiosk, client))}

    async def check_in(body: dict[str, Any], request: Request) -> dict[str, Any]:
        tcode, kiosk, client = admitted(body, request)
        checked = await booking.check_in(tcode, kiosk, client)
        metrics.booking("checked_in", "kiosk")
        return {"booking": booking_json(checked)}

    kiosk = Resource()
    kiosk.putChild(b"verify", JsonEndpoint(verify))
    kiosk.putChild(b"check-in", JsonEndpoint(check_in))
    return kiosk


class Health(Resource):
    """``GET /healthz``: 200 when Redis answers a PING, 503 otherwise; ``pid`` says which
    process of the node answered (``node.workers``)."""

    isLeaf = True

    def __init__(self, ping: Callable[[], Awaitable[object]]) -> None:
        super().__init__()
        self.ping = ping

    def render_GET(self, request: Request) -> object:
        async def run() -> None:
            try:
                await self.ping()
                write_json(request, 200, {"status": "ok", "redis": "ok", "pid": os.getpid()})
            except Exception as exc:
                body = {"status": "degraded", "redis": str(exc)[:200], "pid": os.getpid()}
                write_json(request, 503, body)

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET


def build_root(
    booking: BookingService,
    ping: Callable[[], Awaitable[object]],
    ussd_at: Resource | None = None,
    kiosk_access: KioskAccess | None = None,
) -> Resource:
    root = Resource()
    api = Resource()
    root.putChild(b"api", api)
    api.putChild(b"kiosk", kiosk_resource(booking, kiosk_access))
    root.putChild(b"healthz", Health(ping))
    if ussd_at is not None:
        ussd = Resource()
        ussd.putChild(b"at", ussd_at)
        root.putChild(b"ussd", ussd)
    return root
