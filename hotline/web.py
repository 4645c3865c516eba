"""The HTTP side that is not a USSD gateway: kiosk API and health.

Kiosk contract (docs/architecture.md): ``POST /api/kiosk/verify`` and ``POST /api/kiosk/check-in``
with JSON ``{"tcode": "...", "kiosk_id": "..."}`` → ``{"booking": {...}}`` with the ID and phone
masked, or ``{"error": {"code", "message"}}``. A forged and a mistyped code get the same answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import Booking, BookingError, BookingService
from hotline import metrics
from pii import mask_tail

log = Logger()

MAX_BODY = 4096
ERROR_STATUS = {
    "bad_request": 400,
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


class JsonEndpoint(Resource):
    """POST-only JSON endpoint running ``handler(body) -> dict`` asynchronously."""

    isLeaf = True

    def __init__(self, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
        super().__init__()
        self.handler = handler

    def render_POST(self, request: Request) -> object:
        async def run() -> None:
            try:
                body = read_json(request)
                write_json(request, 200, await self.handler(body))
            except BookingError as exc:
                status = ERROR_STATUS.get(exc.code, 400)
                write_json(request, status, error_body(exc.code, exc.message))
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


def kiosk_resource(booking: BookingService) -> Resource:
    async def verify(body: dict[str, Any]) -> dict[str, Any]:
        tcode, kiosk = _kiosk_fields(body)
        return {"booking": booking_json(await booking.verify(tcode, kiosk_id=kiosk))}

    async def check_in(body: dict[str, Any]) -> dict[str, Any]:
        tcode, kiosk = _kiosk_fields(body)
        checked = await booking.check_in(tcode, kiosk)
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
) -> Resource:
    root = Resource()
    api = Resource()
    root.putChild(b"api", api)
    api.putChild(b"kiosk", kiosk_resource(booking))
    root.putChild(b"healthz", Health(ping))
    if ussd_at is not None:
        ussd = Resource()
        ussd.putChild(b"at", ussd_at)
        root.putChild(b"ussd", ussd)
    return root
