"""Admin API under ``/api/admin/`` (bearer tokens), and its mounting.

Every request needs ``Authorization: Bearer <token>``. The platform's token (``admin.token``)
may do everything; a hospital's token (``admin.hospital_tokens``) acts for that hospital alone:
its ``hospital`` (query parameter or JSON field) is forced to the token's hospital, and naming
another one is 403 whether or not it exists. Without any configured token the API answers 503,
with a wrong or missing one 401. Endpoints (docs/booking.md, "Admin API"; ``hospital`` may be
left out on a platform of one hospital):

- ``GET  fill?day=YYYY-MM-DD&hospital=ID``  quota and places left per session and channel bucket
- ``POST share`` {"hospital", "dept", "share"}  change a department's remote share
- ``GET  blacklist[?hospital=ID]``          IDs barred now (by ID digest); platform: all
- ``POST blacklist/lift`` {"id", "reason", "appeal"?}  a hospital token: its own bars only
- ``GET  bookings.csv?day=YYYY-MM-DD[&hospital=ID]``  the day's bookings, ID and phone masked
- ``POST session`` {"hospital", "dept", "day", "session", "places": n | null}  shrink or cancel
- ``POST reserve`` {"hospital", "dept", "day", "session", "reserve": n}  one session's reserve
- ``POST reconcile`` {"fix": false}       platform token only: recompute counters, report drift
"""

from __future__ import annotations

import csv
import datetime as dt
import hmac
import io
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
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

PLATFORM = None  # the scope of the platform's token: every hospital
OTHER_HOSPITAL = "This token acts for its own hospital only."


@dataclass(frozen=True, slots=True)
class Scope:
    """Who a valid token speaks for: ``hospital`` None is the platform (everything)."""

    hospital: str | None = PLATFORM

    def hospital_for(self, asked: str | None) -> str | None:
        """The hospital a request acts on: a hospital token's own (naming another is refused,
        the same way whether or not that hospital exists); the platform's: what it asked."""
        if self.hospital is PLATFORM:
            return asked or None
        if asked and asked != self.hospital:
            raise BookingError("forbidden", OTHER_HOSPITAL)
        return self.hospital

    def platform_only(self) -> None:
        if self.hospital is not PLATFORM:
            raise BookingError("forbidden", "Only the platform's token may do this.")


@dataclass(frozen=True, slots=True)
class AdminTokens:
    """``admin.token`` (the platform) and ``admin.hospital_tokens`` ({hospital id: token})."""

    platform: str | None = None
    hospitals: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, admin: Mapping[str, Any]) -> AdminTokens:
        return cls(admin.get("token") or None, dict(admin.get("hospital_tokens") or {}))

    @property
    def configured(self) -> bool:
        return bool(self.platform or self.hospitals)

    def scope(self, header: bytes) -> Scope | None:
        """The scope of an ``Authorization`` header, or None. Every token is compared, each in
        constant time, so the time taken says nothing about which one came close."""
        found: Scope | None = None
        candidates = [(PLATFORM, self.platform), *self.hospitals.items()]
        for hospital, token in candidates:
            if token and hmac.compare_digest(header, f"Bearer {token}".encode()):
                found = Scope(hospital)
        return found


Handler = Callable[[Request, Scope], Awaitable[Any]]


class AdminEndpoint(Resource):
    isLeaf = True

    def __init__(self, tokens: AdminTokens | str | None, get: Handler | None,
                 post: Handler | None) -> None:  # fmt: skip
        super().__init__()
        self.tokens = tokens if isinstance(tokens, AdminTokens) else AdminTokens(tokens)
        self.get, self.post = get, post

    def render_GET(self, request: Request) -> object:
        return self._run(request, self.get)

    def render_POST(self, request: Request) -> object:
        return self._run(request, self.post)

    def _run(self, request: Request, handler: Handler | None) -> object:
        if not self.tokens.configured:
            write_json(request, 503, error_body("not_configured", "admin.token is not set"))
            return NOT_DONE_YET
        scope = self.tokens.scope(request.getHeader(b"authorization") or b"")
        if scope is None:
            write_json(request, 401, error_body("unauthorized", "a valid bearer token is needed"))
            return NOT_DONE_YET
        if handler is None:
            write_json(request, 405, error_body("method_not_allowed", "wrong method"))
            return NOT_DONE_YET

        async def run() -> None:
            try:
                result = await handler(request, scope)
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


def _asked(request: Request) -> str | None:
    """The ``hospital`` query parameter, if any."""
    raw = (request.args.get(b"hospital") or [b""])[0].decode("utf-8", "replace").strip()
    return raw or None


def _body_hospital(body: dict[str, Any]) -> str | None:
    value = body.get("hospital")
    if value is not None and not isinstance(value, str):
        raise BookingError("bad_request", "field 'hospital' must be a hospital id (string)")
    return value or None


def _at(hospital: str | None) -> dict[str, str]:
    """The ``hospital_id`` keyword of a booking admin call; none for the default (the only
    hospital, or every hospital where booking takes None)."""
    return {"hospital_id": hospital} if hospital else {}


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BookingError("bad_request", f"field {name!r} ({kind.__name__}) is required")
    return value


def admin_resource(booking: Any, tokens: AdminTokens | str | None) -> Resource:
    tokens = tokens if isinstance(tokens, AdminTokens) else AdminTokens(tokens)

    async def fill(request: Request, scope: Scope) -> Any:
        hospital = scope.hospital_for(_asked(request))
        return {"sessions": await booking.fill(_day(request), **_at(hospital))}

    async def share(request: Request, scope: Scope) -> Any:
        body = read_json(request)
        hospital = scope.hospital_for(_body_hospital(body))
        value = body.get("share")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise BookingError("bad_request", "field 'share' (0..1) is required")
        result = await booking.set_share(_field(body, "dept", str), float(value), **_at(hospital))
        return {"quotas": result}

    async def blacklist(request: Request, scope: Scope) -> Any:
        return {"barred": await booking.blacklist(**_at(scope.hospital_for(_asked(request))))}

    async def lift(request: Request, scope: Scope) -> Any:
        body = read_json(request)
        done = await booking.lift(
            _field(body, "id", str), _field(body, "reason", str), str(body.get("appeal", "")),
            **_at(scope.hospital_for(_body_hospital(body))),
        )
        return {"lifted": done}

    async def bookings_csv(request: Request, scope: Scope) -> Any:
        hospital = scope.hospital_for(_asked(request))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in await booking.day_bookings(_day(request), **_at(hospital)):
            writer.writerow({**row, "id": mask_tail(row["id"]), "msisdn": mask_tail(row["msisdn"])})
        return out.getvalue()

    async def session(request: Request, scope: Scope) -> Any:
        body = read_json(request)
        hospital = scope.hospital_for(_body_hospital(body))
        places = body.get("places")
        if places is not None and (isinstance(places, bool) or not isinstance(places, int)):
            raise BookingError("bad_request", "places must be a whole number or null")
        try:
            day = dt.date.fromisoformat(_field(body, "day", str))
        except ValueError as exc:
            raise BookingError("bad_request", "day must be YYYY-MM-DD") from exc
        cancelled = await booking.change_session(
            _field(body, "dept", str), day, _field(body, "session", str), places, **_at(hospital),
        )
        return {"cancelled": cancelled}

    async def reserve(request: Request, scope: Scope) -> Any:
        body = read_json(request)
        hospital = scope.hospital_for(_body_hospital(body))
        try:
            day = dt.date.fromisoformat(_field(body, "day", str))
        except ValueError as exc:
            raise BookingError("bad_request", "day must be YYYY-MM-DD") from exc
        return await booking.set_reserve(
            _field(body, "dept", str), day, _field(body, "session", str),
            _field(body, "reserve", int), **_at(hospital),
        )

    async def reconcile(request: Request, scope: Scope) -> Any:
        scope.platform_only()
        body = read_json(request)
        return {"drift": await booking.reconcile(fix=bool(body.get("fix", False)))}

    admin = Resource()
    admin.putChild(b"fill", AdminEndpoint(tokens, fill, None))
    admin.putChild(b"share", AdminEndpoint(tokens, None, share))
    bl = AdminEndpoint(tokens, blacklist, None)
    bl.isLeaf = False
    bl.putChild(b"lift", AdminEndpoint(tokens, None, lift))
    admin.putChild(b"blacklist", bl)
    admin.putChild(b"bookings.csv", AdminEndpoint(tokens, bookings_csv, None))
    admin.putChild(b"session", AdminEndpoint(tokens, None, session))
    admin.putChild(b"reserve", AdminEndpoint(tokens, None, reserve))
    admin.putChild(b"reconcile", AdminEndpoint(tokens, None, reconcile))
    return admin


def install_booking(root: Resource, booking: Any, settings: Any) -> None:
    """Mount the payment callback and the admin API, and read the admins' shares once.
    ``settings.raw`` holds ``payments.secret``, ``admin.token`` and ``admin.hospital_tokens``.
    (The hold and no-show sweeper is a part of the service tree: ``hotline.app``.)"""
    raw = settings.raw
    api = root.children[b"api"]
    payments = Resource()
    payments.putChild(b"callback", PaymentCallback(booking, raw["payments"].get("secret")))
    api.putChild(b"payments", payments)
    api.putChild(b"admin", admin_resource(booking, AdminTokens.from_settings(raw["admin"])))
    Deferred.fromCoroutine(booking.refresh_shares()).addErrback(
        lambda f: log.failure("booking.refresh_shares_failed", f)
    )
