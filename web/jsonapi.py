"""JSON over HTTP, shared by every API here: one error shape, one body limit, one endpoint type.

An answer is ``{...}`` or ``{"error": {"code", "message"}}``; a ``booking.api.BookingError`` maps
to its HTTP status through ``ERROR_STATUS`` (over a rate limit: 429 with ``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import BookingError, RateLimited

log = Logger()

MAX_BODY = 4096
ERROR_STATUS = {
    "bad_request": 400,
    "forbidden": 403,
    "not_found": 404,
    "unknown_hospital": 404,
    "wrong_hospital": 409,
    "not_today": 409,
    "already_checked_in": 409,
    "cancelled": 410,
    "rate_limited": 429,
}


REASONS = {429: b"Too Many Requests"}


def write_json(request: Request, status: int, body: dict[str, Any]) -> None:
    if request.finished or request._disconnected:  # type: ignore[attr-defined]
        return
    request.setResponseCode(status, REASONS.get(status))  # twisted.web knows no 429 phrase
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
