"""An in-memory twin of the booking service, for tests where Redis is not the point.

``MemoryBookingService`` speaks the ``booking.api.BookingService`` protocol with the rules of
``booking.rules`` and ``booking.checks`` and the refusal codes and messages of ``booking.values``,
over Python dicts instead of Lua scripts, for a platform of one or many hospitals: what a
channel test needs is a booking answer, not a Redis server. ``tests/booking/test_twin_contract.py``
runs the same scenarios against this twin and ``RedisBookingService`` and requires the same
answers, so the twin cannot drift from the real service unnoticed.

What it leaves out: the hospital's side (shares, schedule changes, payments and the sweepers,
reconcile) and the ``hl:events`` stream; a test that needs those uses the real service.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from booking._types import SecondsClock
from booking.api import (
    Booking,
    BookingError,
    BookingListener,
    BookingRequest,
    Department,
    Hospital,
    RateLimited,
    SessionAvailability,
)
from booking.catalog import DepartmentConfig, HospitalConfig, Platform, SessionTemplate
from booking.checks import checked_request, notice_lang
from booking.directory import Directory, as_platform, wrong_hospital
from booking.idcard import is_valid_resident_id, normalize_resident_id
from booking.listeners import Listeners
from booking.policy import Limits, Policy
from booking.rules import (
    at,
    bookable,
    bucket_for,
    bucket_quotas,
    cancel_too_late,
    check_in_refusal,
    check_in_window,
    local_now,
    open_days,
    remote_quota,
    return_time,
)
from booking.tcode import Rng, is_well_formed, new_tcode
from booking.values import (
    NOT_FOUND,
    booking_from_hash,
    refusal,
    refused_error,
    reserve_reply,
    same_request,
)

KIOSK_WINDOW_S = 60  # as booking.lifecycle: wrong codes counted in a sliding minute
KIOSK_LIMITED = "Too many wrong codes. Please wait a minute or ask at the desk."
MAX_ATTEMPTS = 5
DAY = 86400
SCOPES = ("platform", "hospital")

__all__ = ["MemoryBookingService"]


@dataclass
class _Session:
    """One session's taken places per bucket and the cancelled places waiting to return."""

    taken: dict[str, int] = field(default_factory=lambda: {"r": 0, "o": 0, "v": 0})
    returns: list[tuple[float, str]] = field(default_factory=list)  # (release at, bucket)
    seq: int = 0
    reserve: int | None = None  # the admin's override of the hospital's reserve_share

    def settle(self, now_s: float) -> None:
        for _, bucket in [r for r in self.returns if r[0] <= now_s]:
            self.taken[bucket] -= 1
        self.returns = [r for r in self.returns if r[0] > now_s]


class MemoryBookingService:
    """``BookingService`` in memory over a platform (or one hospital); ``clock`` gives epoch
    seconds (``task.Clock`` in tests), ``rng`` draws T-code digits like ``secrets.randbelow``.

    ``person_scope`` and ``blacklist_scope`` ("platform" or "hospital") say whether the
    per-person caps and the bars hold across the platform or per hospital, as for the Redis
    service."""

    def __init__(
        self, platform: Platform | HospitalConfig, clock: SecondsClock, *, rng: Rng | None = None,
        draw: Callable[[], float] = random.random, person_scope: str = "platform",
        blacklist_scope: str = "platform",
    ) -> None:
        if person_scope not in SCOPES or blacklist_scope not in SCOPES:
            raise ValueError(f"person_scope and blacklist_scope must be one of {SCOPES}")
        self.directory = Directory(as_platform(platform))
        self.person_scope = person_scope
        self.blacklist_scope = blacklist_scope
        self.clock = clock
        self.rng = rng
        self.draw = draw  # where in the return delay a cancelled place comes back
        self.bookings: dict[str, dict[str, str]] = {}  # tcode -> the fields Redis would hold
        self._sessions: dict[tuple[str, str, dt.date, str], _Session] = {}
        self._day_ids: dict[tuple[str, str, dt.date], dict[str, str]] = {}  # -> {id: tcode}
        self._made: dict[tuple[str, str], dict[str, float]] = {}  # (scope, ID) -> {tcode: when}
        self._days: dict[tuple[str, str], dict[str, int]] = {}  # (scope, ID) -> {day: live}
        self._phone_ids: dict[str, set[str]] = {}
        self._phone_bookings: dict[str, dict[str, int]] = {}  # msisdn -> tcode: visit ordinal
        self._ops: dict[tuple[str, str, int], int] = {}  # (p|i, who, minute) -> operations
        self._requests: dict[str, tuple[str, float]] = {}  # request key -> (tcode, expires)
        self._barred: dict[tuple[str, str], float] = {}  # (scope, ID) -> until
        self._cancels: dict[tuple[str, str], list[float]] = {}  # (scope, ID) -> cancel times
        self._kiosk_failures: dict[tuple[str, str, str], list[float]] = {}
        self._queue: dict[tuple[str, str, str, str], int] = {}  # hospital, dept, day, session
        self.listeners = Listeners()

    @property
    def platform(self) -> Platform:
        return self.directory.platform

    def replace_platform(self, platform: Platform | HospitalConfig) -> list[str]:
        """Put a reloaded platform in force; returns the ids of the hospitals taken away."""
        return self.directory.replace(as_platform(platform))

    def _seconds(self) -> float:
        return self.clock.seconds()

    def _now(self, hospital: HospitalConfig) -> dt.datetime:
        return local_now(self._seconds(), hospital.tz)

    def _person(self, hospital_id: str) -> str:
        return hospital_id if self.person_scope == "hospital" else ""

    def _bar_scope(self, hospital_id: str) -> str:
        return hospital_id if self.blacklist_scope == "hospital" else ""

    def _limits(self, hospital: HospitalConfig | None) -> Limits:
        """The per-person caps and ladders: the platform's, or the hospital's when per hospital."""
        if self.person_scope == "hospital" and hospital is not None:
            return hospital.policy.limits
        return self.platform.limits

    # ---------------------------------------------------------------- availability

    async def hospitals(self) -> list[Hospital]:
        return self.directory.hospitals()

    async def recent_hospitals(self, msisdn: str) -> list[str]:
        made = sorted(
            (float(self.bookings[c]["created_at"]), self.bookings[c]["hospital"])
            for c in self._phone_bookings.get(msisdn, {})
        )
        out: list[str] = []
        for _, hid in reversed(made):
            if hid not in out:
                out.append(hid)
        return out

    async def departments(self, hospital_id: str = "") -> list[Department]:
        h = self.directory.taking(hospital_id)
        return [Department(d.id, d.name, h.id) for d in h.departments]

    def _dept(self, h: HospitalConfig, dept_id: str) -> DepartmentConfig:
        dept = h.department(dept_id)
        if dept is None:
            raise BookingError("unknown_department", "That department is not offered.")
        return dept

    def _quotas(
        self, h: HospitalConfig, dept: DepartmentConfig, tmpl: SessionTemplate, day: dt.date,
        now_s: float,
    ) -> tuple[dict[str, int], _Session]:
        state = self._sessions.setdefault((h.id, dept.id, day, tmpl.id), _Session())
        state.settle(now_s)
        p = h.policy
        fallback = now_s >= at(day, tmpl.start, h.tz) - p.fallback_minutes * 60
        reserve = remote_quota(tmpl.places, p.reserve_share) if state.reserve is None else (
            state.reserve)
        quota = bucket_quotas(
            tmpl.places, reserve,
            remote_quota(tmpl.places, dept.remote_share), fallback, state.taken,
        )  # fmt: skip
        return quota, state

    def _remote_left(
        self, h: HospitalConfig, dept: DepartmentConfig, tmpl: SessionTemplate, day: dt.date
    ) -> int:
        quota, state = self._quotas(h, dept, tmpl, day, self._seconds())
        return max(quota["r"] - state.taken["r"], 0)

    def _bookable(self, h: HospitalConfig, day: dt.date, now: dt.datetime) -> bool:
        p = h.policy
        return bookable(day, now, h.days_ahead, p.release_time, p.booking_cutoff)

    async def open_days(self, dept_id: str, hospital_id: str = "") -> list[dt.date]:
        h = self.directory.taking(hospital_id)
        dept = self._dept(h, dept_id)
        now = self._now(h)
        days = [d for d in open_days(now, h.days_ahead) if self._bookable(h, d, now)]
        return [d for d in days if any(self._remote_left(h, dept, s, d) for s in dept.sessions)]

    async def sessions(
        self, dept_id: str, day: dt.date, hospital_id: str = ""
    ) -> list[SessionAvailability]:
        h = self.directory.taking(hospital_id)
        dept = self._dept(h, dept_id)
        if not self._bookable(h, day, self._now(h)):
            return []
        return [
            SessionAvailability(dept_id, day, s.id, s.label, self._remote_left(h, dept, s, day),
                                h.id)
            for s in dept.sessions
        ]

    async def remote_left(
        self, dept_id: str, day: dt.date, session: str, hospital_id: str = ""
    ) -> int:
        h = self.directory.taking(hospital_id)
        dept = self._dept(h, dept_id)
        tmpl = dept.session(session)
        return 0 if tmpl is None else self._remote_left(h, dept, tmpl, day)

    async def set_reserve(
        self, dept_id: str, day: dt.date, session: str, reserve: int, *, hospital_id: str = "",
    ) -> dict[str, int]:
        """set_reserve.lua's decision (booking.admin ``set_reserve``): refused, never cancelling,
        when the places taken would no longer fit."""
        h = self.directory.taking(hospital_id)
        dept = self._dept(h, dept_id)
        tmpl = dept.session(session)
        if tmpl is None:
            raise BookingError("closed", "No such session.")
        if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 0:
            raise BookingError("bad_request", "reserve must be a whole number >= 0.")
        now_s = self._seconds()
        _, state = self._quotas(h, dept, tmpl, day, now_s)
        t, p = state.taken, tmpl.places
        if reserve > p:
            reply: list[Any] = ["over", p]
        elif t["r"] + t["o"] + reserve > p or t["v"] > reserve:
            reply = ["taken", t["r"] + t["o"], t["v"]]
        else:
            state.reserve = reserve
            quota, _ = self._quotas(h, dept, tmpl, day, now_s)
            reply = ["ok", p, quota["v"], quota["r"]]
        return reserve_reply(reply, reserve)

    # ---------------------------------------------------------------- taking a place

    def _over(self, kind: str, who: str, minute: int) -> bool:
        n = self._ops[(kind, who, minute)] = self._ops.get((kind, who, minute), 0) + 1
        return n > self.platform.limits.ops_per_minute

    async def book(self, request: BookingRequest) -> Booking:
        h = self.directory.taking(request.hospital_id)
        now_s = self._seconds()
        minute = int(now_s // 60)
        id_number, dept, tmpl, pay_now = checked_request(
            request, h, now_s, local_now(minute * 60.0, h.tz)
        )
        for _ in range(MAX_ATTEMPTS):
            code = new_tcode(self.rng) if self.rng else new_tcode()
            try:  # as the Redis service: a fresh candidate code for each try of hold.lua
                if self._take(request, h, id_number, dept, tmpl, pay_now, now_s, minute, code):
                    break
            except _Replay as again:
                return again.booking
        else:
            raise BookingError("error", "Booking is busy, please try again.")
        booking = self._booking(code)
        if booking.status.value == "confirmed":
            self.listeners.notify(booking)
        return booking

    def _take(
        self, request: BookingRequest, h: HospitalConfig, id_number: str,
        dept: DepartmentConfig, tmpl: SessionTemplate, pay_now: bool, now_s: float, minute: int,
        code: str,
    ) -> bool:
        """hold.lua's decision, in the same order of checks: False when ``code`` is taken."""
        key = request.request_key
        if key and key in self._requests and self._requests[key][1] > now_s:
            prior = self._booking(self._requests[key][0])
            same_request(prior, request, id_number)
            raise _Replay(prior)
        lim, tz = self._limits(h), h.tz
        if self._over("p", request.msisdn, minute) or self._over("i", id_number, minute):
            raise refused_error("rate_limited", "", tz)
        barred = self._barred.get((self._bar_scope(h.id), id_number), 0.0)
        if barred > now_s:
            raise refused_error("blacklisted", repr(barred), tz)
        day, iso = request.day, request.day.isoformat()
        if id_number in self._day_ids.get((h.id, dept.id, day), {}):
            raise refused_error("duplicate", "", tz)
        ids = self._phone_ids.setdefault(request.msisdn, set())
        if id_number not in ids and len(ids) >= self.platform.limits.ids_per_phone:
            raise refused_error("limit_ids", "", tz)
        person = (self._person(h.id), id_number)
        if self._days.get(person, {}).get(iso, 0) >= lim.per_day:
            raise refused_error("limit", "day", tz)
        made = self._made.setdefault(person, {})
        for old in [c for c, t in made.items() if t <= now_s - 90 * DAY]:
            del made[old]
        if sum(1 for t in made.values() if t > now_s - 7 * DAY) >= lim.per_7_days:
            raise refused_error("limit", "7d", tz)
        if len(made) >= lim.per_90_days:
            raise refused_error("limit", "90d", tz)
        quota, state = self._quotas(h, dept, tmpl, day, now_s)
        bucket = bucket_for(request.channel)
        if state.taken[bucket] >= quota[bucket]:
            raise refused_error("full", "", tz)
        if code in self.bookings:
            return False
        hu = 0 if pay_now else int(now_s + h.policy.hold_minutes * 60)
        state.seq += 1
        self.bookings[code] = {
            "tcode": code, "seq": str(state.seq), "hospital": h.id, "dept": dept.id, "day": iso,
            "session": tmpl.id, "channel": request.channel,
            "status": "confirmed" if pay_now else "held", "bucket": bucket, "id": id_number,
            "msisdn": request.msisdn, "created_at": repr(now_s), "lang": notice_lang(request),
            "hold_until": str(hu),
        }  # fmt: skip
        if request.source:
            self.bookings[code]["source"] = request.source
        self._day_ids.setdefault((h.id, dept.id, day), {})[id_number] = code
        state.taken[bucket] += 1
        made[code] = now_s
        days = self._days.setdefault(person, {})
        days[iso] = days.get(iso, 0) + 1
        ids.add(id_number)
        self._phone_bookings.setdefault(request.msisdn, {})[code] = day.toordinal()
        if key:
            self._requests[key] = (code, now_s + 86400)
        return True

    def _hospital_of(self, h: dict[str, str]) -> HospitalConfig | None:
        return self.directory.known(h.get("hospital", ""))

    def _booking(self, code: str) -> Booking:
        h = self.bookings[code]
        return booking_from_hash(self._hospital_of(h), h)

    def _hash(self, tcode: str) -> dict[str, str]:
        if not is_well_formed(tcode) or tcode not in self.bookings:
            raise BookingError("not_found", NOT_FOUND)
        return self.bookings[tcode]

    # ---------------------------------------------------------------- after a place is taken

    def _release(self, h: dict[str, str], now_s: float, release_at: float) -> None:
        """lib.lua ``release``: out of every index; the place returns now or at release_at."""
        day, idn, code, hid = dt.date.fromisoformat(h["day"]), h["id"], h["tcode"], h["hospital"]
        ids = self._day_ids.get((hid, h["dept"], day), {})
        if ids.get(idn) == code:
            del ids[idn]
        state = self._sessions[(hid, h["dept"], day, h["session"])]
        if release_at > now_s:
            state.returns.append((release_at, h["bucket"]))
            h["release_at"] = str(int(release_at))
        else:
            state.taken[h["bucket"]] -= 1
        person = (self._person(hid), idn)
        if self._made.get(person, {}).pop(code, None) is not None:
            days = self._days[person]
            days[h["day"]] -= 1
            if days[h["day"]] <= 0:
                del days[h["day"]]
        self._phone_bookings.get(h["msisdn"], {}).pop(code, None)

    async def cancel(self, tcode: str, msisdn: str | None = None) -> Booking:
        h = self._hash(tcode)
        hospital = self._hospital_of(h)
        now_s = self._seconds()
        p = hospital.policy if hospital else Policy()
        tz = hospital.tz if hospital else self.platform.hospitals[0].tz
        lim = self._limits(hospital)
        late = cancel_too_late(dt.date.fromisoformat(h["day"]), local_now(now_s, tz),
                               p.cancel_deadline)  # fmt: skip
        back = return_time(now_s, p.return_delay_minutes, self.draw())
        if msisdn and h["msisdn"] != msisdn:
            raise refusal("not_found")
        if msisdn and self._over("p", msisdn, int(now_s // 60)):
            raise refusal("rate_limited")
        status = h["status"]
        if status not in ("held", "confirmed"):
            raise refusal({"checked_in": "already_checked_in"}.get(status, status))
        if late:
            raise refusal("too_late")
        self._release(h, now_s, now_s if status == "held" else back)
        h.update(status="cancelled", cancelled_at=repr(now_s), cancel_reason="patient")
        if status == "confirmed" and lim.cancel_count > 0:
            window = lim.cancel_window_days * DAY
            person = (self._person(h["hospital"]), h["id"])
            log = [t for t in self._cancels.get(person, []) if t > now_s - window] + [now_s]
            self._cancels[person] = log
            if len(log) >= lim.cancel_count:
                until = now_s + lim.cancel_barred_days * DAY
                bar = (self._bar_scope(h["hospital"]), h["id"])
                self._barred[bar] = max(until, self._barred.get(bar, 0.0))
        return self._booking(tcode)

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        order = sorted(self._phone_bookings.get(msisdn, {}).items(), key=lambda kv: (kv[1], kv[0]))
        return [
            self._booking(code) for code, _ in order
            if self.bookings[code]["status"] in ("held", "confirmed")
        ]  # fmt: skip

    # ---------------------------------------------------------------- kiosk

    def _kiosk_scope(self, hospital_id: str | None) -> tuple[str, Policy, HospitalConfig | None]:
        """Whose wrong-code counters and limits a kiosk call uses, and the kiosk's hospital."""
        if hospital_id is None:
            first = self.platform.hospitals[0]
            return (first.id if self.platform.single else ""), first.policy, None
        kiosk_hospital = (self.directory.known(hospital_id) if hospital_id
                          else self.platform.hospital(""))  # fmt: skip
        if kiosk_hospital is None:
            raise BookingError("unknown_hospital", "That hospital is not on this line.")
        return kiosk_hospital.id, kiosk_hospital.policy, kiosk_hospital

    def _kiosk_lookup(
        self, tcode: str, kiosk_id: str | None, client: str | None, hospital_id: str | None
    ) -> dict[str, str]:
        """kiosk_lookup.lua: wrong codes count per kiosk, address and hospital (sliding); a
        code of another hospital than the kiosk's is refused naming its hospital."""
        scope, p, kiosk_hospital = self._kiosk_scope(hospital_id)
        found = self._lookup(tcode, kiosk_id, client, scope, p)
        if kiosk_hospital is not None and found.get("hospital") != kiosk_hospital.id:
            owner = self._hospital_of(found)
            raise wrong_hospital(owner.name if owner else {"zh": found.get("hospital", "")})
        return found

    def _lookup(
        self, tcode: str, kiosk_id: str | None, client: str | None, scope: str, p: Policy
    ) -> dict[str, str]:
        if not kiosk_id and not client:
            return self._hash(tcode)
        now_s = self._seconds()
        logs = [((scope, "h", "-"), p.kiosk_failures_per_hospital_per_minute)]
        if kiosk_id:
            logs.append(((scope, "k", kiosk_id), p.kiosk_failures_per_minute))
        if client:
            logs.append(((scope, "a", client), p.kiosk_failures_per_address_per_minute))
        wait = 0.0
        for who, limit in logs:
            times = [t for t in self._kiosk_failures.get(who, []) if t > now_s - KIOSK_WINDOW_S]
            self._kiosk_failures[who] = times
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + KIOSK_WINDOW_S - now_s)
        if wait > 0:
            raise RateLimited(KIOSK_LIMITED, max(1, math.ceil(wait)))
        if is_well_formed(tcode) and tcode in self.bookings:
            return self.bookings[tcode]
        for who, _ in logs:
            self._kiosk_failures[who].append(now_s)
        raise BookingError("not_found", NOT_FOUND)

    def _window(self, h: dict[str, str]) -> tuple[float, float] | None:
        hospital = self._hospital_of(h)
        dept = hospital.department(h["dept"]) if hospital else None
        tmpl = dept.session(h["session"]) if dept else None
        if hospital is None or tmpl is None or not hospital.policy.checkin_window:
            return None
        p = hospital.policy
        return check_in_window(dt.date.fromisoformat(h["day"]), tmpl.start, tmpl.end,
                               hospital.tz, p.checkin_early_minutes,
                               p.checkin_late_minutes)  # fmt: skip

    def _refusal(self, h: dict[str, str]) -> str | None:
        """Why the booking cannot be checked in now (check_in.lua's order), or None."""
        hospital = self._hospital_of(h)
        tz = hospital.tz if hospital else self.platform.hospitals[0].tz
        why = check_in_refusal(h["status"], dt.date.fromisoformat(h["day"]),
                               local_now(self._seconds(), tz))  # fmt: skip
        if why is None and h["status"] != "confirmed":
            why = h["status"]
        window = self._window(h)
        if why is None and window is not None:
            now_s = self._seconds()
            why = "too_early" if now_s < window[0] else "too_late" if now_s > window[1] else None
        return why

    async def verify(
        self, tcode: str, kiosk_id: str | None = None, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        h = self._kiosk_lookup(tcode, kiosk_id, client, hospital_id)
        why = self._refusal(h)
        if why:
            raise refusal(why)
        return self._booking(h["tcode"])

    async def check_in(
        self, tcode: str, kiosk_id: str, client: str | None = None,
        hospital_id: str | None = None,
    ) -> Booking:
        if not kiosk_id or len(kiosk_id) > 64:
            raise BookingError("bad_request", "kiosk_id must be 1 to 64 characters.")
        h = self._kiosk_lookup(tcode, kiosk_id, client, hospital_id)
        why = self._refusal(h)
        if why:
            raise refusal(why)
        session = (h["hospital"], h["dept"], h["day"], h["session"])
        self._queue[session] = self._queue.get(session, 0) + 1  # check_in.lua's queue number
        h.update(status="checked_in", checked_in_at=repr(self._seconds()), kiosk_id=kiosk_id,
                 queue_no=str(self._queue[session]))
        return self._booking(h["tcode"])

    # ---------------------------------------------------------------- people and listeners

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        id_number = normalize_resident_id(id_number)
        today = self._now(self.platform.hospitals[0]).date()
        if not is_valid_resident_id(id_number, today=today):
            raise BookingError("invalid_id", "That ID number is not valid. Please check it.")
        ids = self._phone_ids.setdefault(msisdn, set())
        if id_number not in ids and len(ids) >= self.platform.limits.ids_per_phone:
            raise BookingError(
                "limit", "This phone number already books for the most ID numbers allowed."
            )
        ids.add(id_number)
        return sorted(ids)

    async def registered_ids(self, msisdn: str) -> list[str]:
        return sorted(self._phone_ids.get(msisdn, ()))

    def subscribe(self, listener: BookingListener) -> None:
        self.listeners.subscribe(listener)


class _Replay(Exception):
    """A request key seen before: the booking it made is the answer."""

    def __init__(self, booking: Booking) -> None:
        self.booking = booking
