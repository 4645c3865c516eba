"""Hospital admin API under ``/api/admin/`` (bearer token ``admin.token``), and its mounting.

Every request needs ``Authorization: Bearer <admin.token>``; without a configured token the API
answers 503, with a wrong or missing one 401. Endpoints (docs/booking.md, "Admin API"):

- ``GET  fill?day=YYYY-MM-DD``            quota and places left per session and channel bucket
- ``POST share`` {"dept", "share"}       change a department's remote share (clamped, never breaks)
- ``GET  blacklist``                      IDs barred now (by ID digest)
- ``POST blacklist/lift`` {"id", "reason", "appeal"?}
- ``GET  bookings.csv?day=YYYY-MM-DD``    the day's bookings, ID and phone masked to the last 4
- ``POST session`` {"dept", "day", "session", "places": n | null}  shrink or cancel a session
- ``POST reconcile`` {"fix": false}       recompute counters from bookings, report drift
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import CSV_FIELDS, BookingError
from pii import mask_tail
from web.jsonapi import ERROR_STATUS, error_body, read_json, write_json
from web.payments import PaymentCallback

log = Logger()
Handler = Callable[[Request], Awaitable[Any]]


class AdminEndpoint(Resource):
    isLeaf = True

    def __init__(self, token: str | None, get: Handler | None, post: Handler | None) -> None:
        super().__init__()
        self.token, self.get, self.post = token, get, post

    def render_GET(self, request: Request) -> object:
        return self._run(request, self.get)

    def render_POST(self, request: Request) -> object:
        return self._run(request, self.post)

    def _run(self, request: Request, handler: Handler | None) -> object:
        if not self.token:
            write_json(request, 503, error_body("not_configured", "admin.token is not set"))
            return NOT_DONE_YET
        given = request.getHeader(b"authorization") or b""
        if not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
            write_json(request, 401, error_body("unauthorized", "a valid bearer token is needed"))
            return NOT_DONE_YET
        if handler is None:
            write_json(request, 405, error_body("method_not_allowed", "wrong method"))
            return NOT_DONE_YET

        async def run() -> None:
            try:
                result = await handler(request)
                if isinstance(result, str):
                    request.setHeader(b"content-type", b"text/csv; charset=utf-8")
                    request.write(result.encode("utf-8"))
                    request.finish()
                else:
                    write_json(request, 200, result)
            except BookingError as exc:
                status = ERROR_STATUS.get(exc.code, 400)
                write_json(request, status, error_body(exc.code, exc.message))
            except Exception:
                log.failure("admin.unhandled")
                write_json(request, 500, error_body("internal", "internal error"))

        Deferred.fromCoroutine(run())
        return NOT_DONE_YET


def _day(request: Request) -> dt.date:
    raw = (request.args.get(b"day") or [b""])[0].decode("ascii", "replace")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise BookingError("bad_request", "query parameter day=YYYY-MM-DD is required") from exc


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BookingError("bad_request", f"field {name!r} ({kind.__name__}) is required")
    return value


def admin_resource(booking: Any, token: str | None) -> Resource:
    async def fill(request: Request) -> Any:
        return {"sessions": await booking.fill(_day(request))}

    async def share(request: Request) -> Any:
        body = read_json(request)
        value = body.get("share")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BookingError("bad_request", "field 'share' (0..1) is required")
        result = await booking.set_share(_field(body, "dept", str), float(value))
        return {"quotas": result}

    async def blacklist(_: Request) -> Any:
        return {"barred": await booking.blacklist()}

    async def lift(request: Request) -> Any:
        body = read_json(request)
        done = await booking.lift(
            _field(body, "id", str), _field(body, "reason", str), str(body.get("appeal", ""))
        )
        return {"lifted": done}

    async def bookings_csv(request: Request) -> Any:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in await booking.day_bookings(_day(request)):
            writer.writerow({**row, "id": mask_tail(row["id"]), "msisdn": mask_tail(row["msisdn"])})
        return out.getvalue()

    async def session(request: Request) -> Any:
        body = read_json(request)
        places = body.get("places")
        if places is not None and (isinstance(places, bool) or not isinstance(places, int)):
            raise BookingError("bad_request", "places must be a whole number or null")
        try:
            day = dt.date.fromisoformat(_field(body, "day", str))
        except ValueError as exc:
            raise BookingError("bad_request", "day must be YYYY-MM-DD") from exc
        cancelled = await booking.change_session(
            _field(body, "dept", str), day, _field(body, "session", str), places
        )
        return {"cancelled": cancelled}

    async def reconcile(request: Request) -> Any:
        body = read_json(request)
        return {"drift": await booking.reconcile(fix=bool(body.get("fix", False)))}

    admin = Resource()
    admin.putChild(b"fill", AdminEndpoint(token, fill, None))
    admin.putChild(b"share", AdminEndpoint(token, None, share))
    bl = AdminEndpoint(token, blacklist, None)
    bl.isLeaf = False
    bl.putChild(b"lift", AdminEndpoint(token, None, lift))
    admin.putChild(b"blacklist", bl)
    admin.putChild(b"bookings.csv", AdminEndpoint(token, bookings_csv, None))
    admin.putChild(b"session", AdminEndpoint(token, None, session))
    admin.putChild(b"reconcile", AdminEndpoint(token, None, reconcile))
    return admin


def install_booking(root: Resource, booking: Any, settings: Any) -> None:
    """Mount the payment callback and the admin API, and read the admins' shares once.
    ``settings.raw`` holds ``payments.secret`` and ``admin.token``. (The hold and no-show
    sweeper is a part of the service tree: ``hotline.app``.)"""
    raw = settings.raw
    api = root.children[b"api"]
    payments = Resource()
    payments.putChild(b"callback", PaymentCallback(booking, raw["payments"].get("secret")))
    api.putChild(b"payments", payments)
    api.putChild(b"admin", admin_resource(booking, raw["admin"].get("token")))
    Deferred.fromCoroutine(booking.refresh_shares()).addErrback(
        lambda f: log.failure("booking.refresh_shares_failed", f)
    )
