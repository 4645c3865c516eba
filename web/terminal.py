"""The partner terminal API: community POS terminals book for patients (docs/terminal-api.md).

``/api/terminal/v1/...``, JSON. Each terminal is registered with its own secret
(``terminal.secrets``); every request is signed::

    X-Terminal-Id: pos-17
    X-Timestamp:   unix seconds
    X-Nonce:       16-64 characters of [A-Za-z0-9_-], new for every request
    X-Signature:   hex HMAC-SHA256(secret, METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n
                                   hex SHA-256 of the body)

The signature is checked first (constant-time), then the timestamp (within ``max_skew_s`` of
ours), then the nonce: it is stored in Redis for twice the skew, so the same nonce again is a
replay and refused. Only then does the request reach booking: the same steps as the web channel
(hospitals, departments, days, sessions, book, my bookings, cancel), with the phone proven by the
same one-time code (``web.otp``) before its bookings are listed or cancelled. Bookings carry the
channel ``terminal``, the terminal id as their source (``extra["source"]``) and the idempotency
key ``terminal:<terminal id>:<request_id>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import Booking, BookingError, BookingRequest, BookingService, RateLimited
from phone import NotAPhoneNumber, normalise_msisdn
from pii import mask_tail
from web.jsonapi import ERROR_STATUS, MAX_BODY, error_body, write_json
from web.kiosk import CountBooking, booking_json, no_count
from web.otp import PhoneCheck

log = Logger()

NONCE_PREFIX = "hl:term:n:"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_SIG = re.compile(r"[0-9a-f]{64}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_TERMINAL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # kept on the booking as its source
AUTH_ERRORS = {"bad_signature", "stale_timestamp", "replay"}


def canonical(method: bytes, path: bytes, timestamp: bytes, nonce: bytes, body: bytes) -> bytes:
    """What a terminal signs (``path`` as sent: path and query)."""
    return b"\n".join([method.upper(), path, timestamp, nonce,
                       hashlib.sha256(body).hexdigest().encode()])


def sign(secret: bytes, method: bytes, path: bytes, timestamp: bytes, nonce: bytes,
         body: bytes) -> str:
    """The ``X-Signature`` of a request (hex)."""
    return hmac.new(secret, canonical(method, path, timestamp, nonce, body),
                    hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class TerminalAccess:
    """``terminal.secrets`` and ``terminal.max_skew_s``."""

    secrets: Mapping[str, bytes] = field(default_factory=dict)
    max_skew_s: int = 300

    @classmethod
    def from_settings(cls, terminal: Mapping[str, Any]) -> TerminalAccess:
        raw = terminal.get("secrets") or {}
        if not all(isinstance(k, str) and _TERMINAL_ID.fullmatch(k.strip())
                   and isinstance(v, str) and len(v) >= 16 for k, v in raw.items()):
            raise ValueError("terminal.secrets must map each terminal id (1-64 characters of "
                             "[A-Za-z0-9_.:-]) to a secret of at least 16 characters")
        return cls({k.strip(): v.encode("utf-8") for k, v in raw.items()},
                   int(terminal.get("max_skew_s", 300)))


def terminal_json(booking: Booking) -> dict[str, Any]:
    """The kiosk's view of a booking (ID and phone masked), its hospital and the terminal that
    booked it, if one did."""
    source = {"terminal_id": booking.extra["source"]} if booking.extra.get("source") else {}
    return {**booking_json(booking), "hospital": booking.hospital_id,
            "hospital_name": dict(booking.hospital_name), **source}


class Refused(BookingError):
    """An unauthenticated request: 401."""


Handler = Callable[["Call"], Awaitable[dict[str, Any]]]


@dataclass
class Call:
    terminal: str
    request: Request
    body: dict[str, Any]

    def arg(self, name: str) -> str:
        values = self.request.args.get(name.encode()) or [b""]
        return values[0].decode("utf-8", "replace").strip()[:64]

    def text(self, name: str, limit: int = 64) -> str:
        value = self.body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BookingError("bad_request", f"field {name!r} (a string) is required")
        if len(value.strip()) > limit:
            raise BookingError("bad_request", f"field {name!r} is longer than {limit} characters")
        return value.strip()


class TerminalApi(Resource):
    """``/api/terminal/v1`` as one leaf (see the module docstring)."""

    isLeaf = True

    def __init__(self, booking: BookingService, phones: PhoneCheck, access: TerminalAccess,
                 redis: Any, clock: Any, *, count: CountBooking = no_count) -> None:
        super().__init__()
        self.booking, self.phones, self.access = booking, phones, access
        self.redis, self.clock, self.count = redis, clock, count
        self.routes: dict[tuple[bytes, str], Handler] = {
            (b"GET", "hospitals"): self.hospitals,
            (b"GET", "departments"): self.departments,
            (b"GET", "days"): self.days,
            (b"GET", "sessions"): self.sessions,
            (b"POST", "bookings"): self.book,
            (b"POST", "otp"): self.send_code,
            (b"POST", "otp/verify"): self.verify_code,
            (b"POST", "bookings/mine"): self.mine,
            (b"POST", "bookings/cancel"): self.cancel,
        }

    def render(self, request: Request) -> object:
        Deferred.fromCoroutine(self._serve(request))
        return NOT_DONE_YET

    async def _serve(self, request: Request) -> None:
        try:
            body = request.content.read(MAX_BODY + 1) if request.content else b""
            if len(body) > MAX_BODY:
                raise BookingError("bad_request", f"body larger than {MAX_BODY} bytes")
            terminal = await self._authenticate(request, body)
            route = "/".join(p.decode("utf-8", "replace") for p in request.postpath).strip("/")
            handler = self.routes.get((request.method, route))
            if handler is None:
                raise BookingError("not_found", "no such endpoint")
            data: dict[str, Any] = {}
            if request.method == b"POST":
                try:
                    data = json.loads(body.decode("utf-8") or "{}")
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise BookingError("bad_request", f"body is not UTF-8 JSON: {exc}") from exc
                if not isinstance(data, dict):
                    raise BookingError("bad_request", "body must be a JSON object")
            write_json(request, 200, await handler(Call(terminal, request, data)))
        except Refused as exc:
            write_json(request, 401, error_body(exc.code, exc.message))
        except BookingError as exc:
            answer = error_body(exc.code, exc.message)
            if isinstance(exc, RateLimited):
                request.setHeader(b"retry-after", b"%d" % exc.retry_after_s)
                answer["error"]["retry_after_s"] = exc.retry_after_s
            if getattr(exc, "tries_left", 0):
                answer["error"]["tries_left"] = exc.tries_left  # type: ignore[attr-defined]
            status = ERROR_STATUS.get(exc.code, 400 if exc.code.startswith("code_") else 409)
            write_json(request, status, answer)
        except Exception:
            log.failure("terminal.unhandled")
            write_json(request, 500, error_body("internal", "internal error, nothing was changed"))

    async def _authenticate(self, request: Request, body: bytes) -> str:
        """The terminal id of a correctly signed, fresh, first-seen request; Refused else."""
        header = request.getHeader
        terminal = (header(b"x-terminal-id") or b"").decode("latin-1")
        timestamp, nonce = header(b"x-timestamp") or b"", header(b"x-nonce") or b""
        given = (header(b"x-signature") or b"").lower()
        secret = self.access.secrets.get(terminal)
        # compare against something even for an unknown terminal: the answer takes as long
        expected = sign(secret or b"\0" * 32, request.method, request.uri, timestamp, nonce, body)
        if not (hmac.compare_digest(expected.encode(), given) and secret is not None
                and _SIG.fullmatch(given.decode("latin-1"))):
            raise Refused("bad_signature", "unknown terminal or wrong signature")
        skew = self.access.max_skew_s
        try:
            at = int(timestamp.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise Refused("stale_timestamp", "X-Timestamp must be unix seconds") from None
        if abs(self.clock.seconds() - at) > skew:
            raise Refused("stale_timestamp", f"X-Timestamp is more than {skew} s from our clock")
        if not _NONCE.fullmatch(nonce.decode("latin-1")):
            raise Refused("replay", "X-Nonce must be 16-64 characters of [A-Za-z0-9_-]")
        fresh = await self.redis.set(f"{NONCE_PREFIX}{terminal}:{nonce.decode()}", "1",
                                     expire=2 * skew, only_if_not_exists=True)
        if not fresh:
            log.warn("terminal.replay terminal={terminal}", terminal=terminal)
            raise Refused("replay", "this nonce was used already")
        return terminal

    # -- the steps -----------------------------------------------------------------------
    async def hospitals(self, call: Call) -> dict[str, Any]:
        return {"hospitals": [
            {"id": h.id, "code": h.code, "name": dict(h.name), "short": dict(h.short),
             "district": dict(h.district)} for h in await self.booking.hospitals()]}

    async def departments(self, call: Call) -> dict[str, Any]:
        depts = await self.booking.departments(call.arg("hospital"))
        return {"departments": [{"id": d.id, "name": dict(d.name)} for d in depts]}

    async def days(self, call: Call) -> dict[str, Any]:
        hospital = call.arg("hospital")
        days = await self.booking.open_days(await self._dept(call.arg("dept"), hospital),
                                            hospital)
        return {"days": [d.isoformat() for d in days]}

    async def sessions(self, call: Call) -> dict[str, Any]:
        hospital = call.arg("hospital")
        dept = await self._dept(call.arg("dept"), hospital)
        found = await self.booking.sessions(dept, _day(call.arg("day")), hospital)
        return {"sessions": [{"session": s.session, "name": dict(s.label),
                              "places_left": s.remote_left} for s in found]}

    async def book(self, call: Call) -> dict[str, Any]:
        request_id = call.text("request_id")
        if not _REQUEST_ID.fullmatch(request_id):
            raise BookingError("bad_request", "request_id: 1-64 characters of [A-Za-z0-9_.:-]")
        lang = call.body.get("lang") if call.body.get("lang") in ("zh", "en") else "zh"
        try:
            booking = await self.booking.book(BookingRequest(
                dept_id=call.text("dept"), day=_day(call.text("day")),
                session=call.text("session"), id_number=call.text("id_number", 18),
                msisdn=_msisdn(call.text("phone", 32)), channel="terminal",
                request_key=f"terminal:{call.terminal}:{request_id}", lang=str(lang),
                hospital_id=_optional(call.body, "hospital"), source=call.terminal))
        except BookingError as exc:
            self.count(exc.code, "terminal")
            raise
        self.count("held" if booking.status.value == "held" else "taken", "terminal")
        log.info("terminal.booked terminal={terminal} tcode={tcode} phone={phone}",
                 terminal=call.terminal, tcode=booking.tcode, phone=mask_tail(booking.msisdn))
        return {"booking": {**terminal_json(booking), "terminal_id": call.terminal}}

    async def send_code(self, call: Call) -> dict[str, Any]:
        msisdn = _msisdn(call.text("phone", 32))
        lang = call.body.get("lang") if call.body.get("lang") in ("zh", "en") else "zh"
        await self.phones.send_code(msisdn, f"terminal:{call.terminal}", str(lang))
        return {"sent": True, "expires_in_s": self.phones.limits.ttl_s}

    async def verify_code(self, call: Call) -> dict[str, Any]:
        msisdn = _msisdn(call.text("phone", 32))
        await self.phones.check_code(msisdn, call.text("code", 16))
        return {"phone_token": await self.phones.open_session(msisdn),
                "expires_in_s": self.phones.limits.session_s}

    async def _proven(self, call: Call) -> str:
        phone = await self.phones.session_phone(call.text("phone_token", 128))
        if phone is None:
            raise BookingError("forbidden", "phone_token is unknown or expired; verify the "
                                            "phone again")  # fmt: skip
        return phone

    async def mine(self, call: Call) -> dict[str, Any]:
        bookings = await self.booking.bookings_for(await self._proven(call))
        return {"bookings": [terminal_json(b) for b in bookings]}

    async def cancel(self, call: Call) -> dict[str, Any]:
        phone = await self._proven(call)
        booking = await self.booking.cancel(call.text("tcode", 16), phone)
        self.count("cancelled", "terminal")
        return {"booking": terminal_json(booking)}

    async def _dept(self, dept_id: str, hospital: str) -> str:
        if dept_id not in {d.id for d in await self.booking.departments(hospital)}:
            raise BookingError("unknown_department", "That department is not offered.")
        return dept_id


def _optional(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BookingError("bad_request", f"field {name!r} must be a string")
    return value.strip()[:64]


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BookingError("bad_request", "day must be YYYY-MM-DD") from None


def _msisdn(text: str) -> str:
    try:
        return normalise_msisdn(text)
    except NotAPhoneNumber:
        raise BookingError("bad_request", "phone is not a valid mobile number") from None
