"""``BookingService`` on Redis: every state change is one Lua script, so no place is sold twice.

The imperative shell around ``booking.rules``: it reads the clock, validates the request, then lets
a script decide atomically (quota, one booking per ID/department/day, idempotency, T-code
uniqueness). Scripts are called by EVALSHA and loaded again if Redis answers NOSCRIPT.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
from collections.abc import Awaitable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.logger import Logger

from booking import keys
from booking.api import (
    Booking,
    BookingError,
    BookingListener,
    BookingRequest,
    BookingStatus,
    Department,
    SessionAvailability,
)
from booking.catalog import Catalog, DepartmentConfig
from booking.idcard import is_valid_resident_id, mask_id, normalize_resident_id
from booking.rules import check_in_refusal, is_open, local_now, open_days, remote_quota
from booking.scripts import LuaScript
from booking.tcode import Rng, is_well_formed, new_tcode

log = Logger()
T = TypeVar("T")

NOT_FOUND = "No booking matches this code. Please check the 10 digits in your SMS."
REQUEST_TTL = 86400  # seconds an idempotency key replays its booking
CANDIDATES = 3  # T-codes offered to one script call; all taken -> call again with fresh ones
MAX_ATTEMPTS = 5
_MSISDN = re.compile(r"[1-9][0-9]{6,14}")  # E.164 digits, no '+'


class SecondsClock(Protocol):
    def seconds(self) -> float: ...


class RedisBookingService:
    """The booking service (``booking.api.BookingService``) backed by one Redis.

    ``clock`` gives epoch seconds (the reactor, or ``task.Clock`` in tests); ``rng`` draws T-code
    digits like ``secrets.randbelow`` and defaults to it; bookings and their session keys expire
    ``retention_days`` after the visit day.
    """

    def __init__(
        self,
        redis: Any,
        catalog: Catalog,
        clock: SecondsClock,
        *,
        rng: Rng | None = None,
        retention_days: int = 30,
    ) -> None:
        self.redis = redis
        self.catalog = catalog
        self.clock = clock
        self.rng = rng
        self.retention_days = retention_days
        self._listeners: list[BookingListener] = []
        self._book = LuaScript(redis, "book")
        self._check_in = LuaScript(redis, "check_in")
        self._cancel = LuaScript(redis, "cancel")

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script now (optional: they are loaded on first NOSCRIPT anyway)."""
        for script in (self._book, self._check_in, self._cancel):
            await script.load()

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self.catalog.tz)

    # ---------------------------------------------------------------- reading availability

    async def departments(self) -> list[Department]:
        return [Department(d.id, d.name) for d in self.catalog.departments]

    def _dept(self, dept_id: str) -> DepartmentConfig:
        dept = self.catalog.department(dept_id)
        if dept is None:
            raise BookingError("unknown_department", "That department is not offered.")
        return dept

    async def remote_left(self, dept_id: str, day: dt.date, session: str) -> int:
        """Remote places still free in one session (0 for an unknown session)."""
        tmpl = self._dept(dept_id).session(session)
        if tmpl is None:
            return 0
        quota = remote_quota(tmpl.places, self._dept(dept_id).remote_share)
        taken = await self.redis.get(keys.remote_count(dept_id, day, session))
        return max(quota - int(taken or 0), 0)

    async def sessions(self, dept_id: str, day: dt.date) -> list[SessionAvailability]:
        """Every session of an open day with its remote places left (0 when full); [] if closed."""
        dept = self._dept(dept_id)
        if not is_open(day, self.now(), self.catalog.days_ahead):
            return []
        lefts = await _gather([self.remote_left(dept_id, day, s.id) for s in dept.sessions])
        return [
            SessionAvailability(dept_id, day, s.id, s.label, left)
            for s, left in zip(dept.sessions, lefts, strict=True)
        ]

    async def open_days(self, dept_id: str) -> list[dt.date]:
        self._dept(dept_id)
        days = open_days(self.now(), self.catalog.days_ahead)
        found = await _gather([self.sessions(dept_id, day) for day in days])
        return [day for day, ss in zip(days, found, strict=True) if any(s.remote_left for s in ss)]

    # ---------------------------------------------------------------- booking

    def _checked(self, req: BookingRequest, now: dt.datetime) -> tuple[str, int]:
        """The normalised ID and the remote quota, or the BookingError to raise."""
        id_number = normalize_resident_id(req.id_number)
        if not is_valid_resident_id(id_number, today=now.date()):
            raise BookingError("invalid_id", "That ID number is not valid. Please check it.")
        dept = self.catalog.department(req.dept_id)
        tmpl = dept.session(req.session) if dept else None
        if dept is None or tmpl is None or not is_open(req.day, now, self.catalog.days_ahead):
            raise BookingError("closed", "That session cannot be booked remotely.")
        if not _MSISDN.fullmatch(req.msisdn) or not req.channel:
            raise BookingError("bad_request", "msisdn (E.164 digits) and channel are required.")
        return id_number, remote_quota(tmpl.places, dept.remote_share)

    def _expire_at(self, day: dt.date) -> int:
        end = dt.datetime.combine(day + dt.timedelta(days=1 + self.retention_days), dt.time())
        return int(end.replace(tzinfo=self.catalog.tz).timestamp())

    async def book(self, request: BookingRequest) -> Booking:
        now_s = self.clock.seconds()
        id_number, quota = self._checked(request, local_now(now_s, self.catalog.tz))
        d, day, s = request.dept_id, request.day, request.session
        fields = {
            "dept": d,
            "day": day.isoformat(),
            "session": s,
            "id": id_number,
            "msisdn": request.msisdn,
            "channel": request.channel,
            "status": BookingStatus.CONFIRMED.value,
            "created_at": repr(now_s),
        }
        flat = [x for kv in fields.items() for x in kv]
        fixed_keys = [
            keys.request(request.request_key or "-"),
            keys.ids_of_day(d, day),
            keys.remote_count(d, day, s),
            keys.session_codes(d, day, s),
        ]
        head = [1 if request.request_key else 0, REQUEST_TTL, id_number, quota]
        head += [self._expire_at(day), len(fields)]
        for _ in range(MAX_ATTEMPTS):
            codes = [new_tcode(self.rng) for _ in range(CANDIDATES)]
            status, tcode = await self._book(
                fixed_keys + [keys.booking(c) for c in codes], head + flat + codes
            )
            if status == "ok":
                booking = self._booking({**fields, "tcode": tcode})
                log.info(
                    "booking.confirmed dept={dept} day={day} session={session} id={id}",
                    dept=d, day=day.isoformat(), session=s, id=mask_id(id_number),
                )  # fmt: skip
                self._notify(booking)
                return booking
            if status == "again":
                return _same_request(await self._load(tcode), request, id_number)
            if status == "duplicate":
                raise BookingError(
                    "duplicate", "This ID already has a booking in this department on that day."
                )
            if status == "full":
                raise BookingError("full", "No remote places are left in that session.")
        raise BookingError("error", "Booking is busy, please try again.")

    # ---------------------------------------------------------------- kiosk

    async def _load(self, tcode: str) -> Booking:
        """The stored booking for a T-code; malformed and unknown codes give the same error."""
        if not is_well_formed(tcode):
            raise BookingError("not_found", NOT_FOUND)
        stored = await self.redis.hgetall(keys.booking(tcode))
        if not stored:
            raise BookingError("not_found", NOT_FOUND)
        return self._booking(stored)

    async def verify(self, tcode: str) -> Booking:
        booking = await self._load(tcode)
        refusal = check_in_refusal(booking.status.value, booking.day, self.now())
        if refusal:
            raise _refusal(refusal)
        return booking

    async def check_in(self, tcode: str, kiosk_id: str) -> Booking:
        if not is_well_formed(tcode):
            raise BookingError("not_found", NOT_FOUND)
        if not kiosk_id or len(kiosk_id) > 64:
            raise BookingError("bad_request", "kiosk_id must be 1 to 64 characters.")
        now_s = self.clock.seconds()
        today = local_now(now_s, self.catalog.tz).date().isoformat()
        reply = await self._check_in([keys.booking(tcode)], [today, repr(now_s), kiosk_id])
        if reply[0] != "ok":
            raise _refusal(reply[0])
        stored = dict(zip(reply[1::2], reply[2::2], strict=True))
        log.info("booking.checked_in kiosk={kiosk} day={day}", kiosk=kiosk_id, day=today)
        return self._booking(stored)

    async def cancel(self, tcode: str) -> Booking:
        """Cancel a confirmed booking and return its remote place (not part of the protocol yet)."""
        booking = await self._load(tcode)
        d, day, s = booking.dept_id, booking.day, booking.session
        reply = await self._cancel(
            [keys.booking(tcode), keys.ids_of_day(d, day), keys.remote_count(d, day, s),
             keys.session_codes(d, day, s)],
            [tcode, booking.id_number, repr(self.clock.seconds())],
        )  # fmt: skip
        if reply != "ok":
            raise _refusal("already_checked_in" if reply == "checked_in" else reply)
        return await self._load(tcode)

    # ---------------------------------------------------------------- listeners

    def subscribe(self, listener: BookingListener) -> None:
        self._listeners.append(listener)

    def _notify(self, booking: Booking) -> None:
        """Tell every listener; a failing or slow listener never affects the booking."""
        for listener in list(self._listeners):
            try:
                result = listener(booking)
            except Exception:
                log.failure("booking.listener_failed tcode=...{tail}", tail=booking.tcode[-4:])
                continue
            if inspect.isawaitable(result):
                d = Deferred.fromCoroutine(_await(result))
                d.addErrback(
                    lambda f, t=booking.tcode[-4:]: log.failure(
                        "booking.listener_failed tcode=...{tail}", f, tail=t
                    )
                )

    # ---------------------------------------------------------------- values

    def _booking(self, h: Mapping[str, str]) -> Booking:
        dept = self.catalog.department(h["dept"])
        tmpl = dept.session(h["session"]) if dept else None
        checked = h.get("checked_in_at")
        extra = {k: h[k] for k in ("kiosk_id", "cancelled_at") if h.get(k)}
        return Booking(
            tcode=h["tcode"],
            dept_id=h["dept"],
            dept_name=dept.name if dept else {"zh": h["dept"], "en": h["dept"]},
            day=dt.date.fromisoformat(h["day"]),
            session=h["session"],
            session_label=tmpl.label if tmpl else {"zh": h["session"], "en": h["session"]},
            id_number=h["id"],
            msisdn=h["msisdn"],
            channel=h["channel"],
            status=BookingStatus(h["status"]),
            created_at=float(h["created_at"]),
            checked_in_at=float(checked) if checked else None,
            extra=extra,
        )


_MESSAGES = {
    "not_found": NOT_FOUND,
    "cancelled": "This booking was cancelled.",
    "not_today": "This booking is for another day.",
    "already_checked_in": "This booking has already been checked in.",
}


def _same_request(booking: Booking, req: BookingRequest, id_number: str) -> Booking:
    """A replayed request key must describe the booking it made; anything else is a client bug."""
    same = (booking.dept_id, booking.day, booking.session, booking.id_number) == (
        req.dept_id, req.day, req.session, id_number,
    )  # fmt: skip
    if not same:
        raise BookingError("bad_request", "This request key was already used for another booking.")
    return booking


def _refusal(code: str) -> BookingError:
    return BookingError(code, _MESSAGES.get(code, "This booking cannot be used."))


async def _gather(coros: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Run coroutines concurrently (one connection pipelines them); re-raise the first error."""
    try:
        return await gatherResults([Deferred.fromCoroutine(c) for c in coros], consumeErrors=True)
    except FirstError as exc:
        exc.subFailure.raiseException()
        raise  # pragma: no cover - raiseException always raises


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
