"""``BookingService`` on Redis: every state change is one Lua script, so no place is sold twice.

The imperative shell around ``booking.rules``: it reads the clock, validates the request, then lets
a script decide atomically (rate limits, blacklist, caps, quota by channel, idempotency, T-code
uniqueness, the event for the SMS). Lifecycle (payment, expiry, cancel, kiosk) lives in
``booking.lifecycle``, people (register, blacklist) in ``booking.people``, admin in
``booking.admin``, the availability reads in ``booking.availability``; this module holds the
service, the quota arguments of the scripts and taking a place.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from typing import Any, Protocol, TypeVar

import txredisapi
from twisted.logger import Logger

from booking import keys
from booking.admin import AdminMixin
from booking.api import Booking, BookingError, BookingRequest
from booking.availability import AvailabilityMixin
from booking.catalog import Catalog, DepartmentConfig, SessionTemplate
from booking.idcard import is_valid_resident_id, normalize_resident_id
from booking.lifecycle import LifecycleMixin
from booking.listing_cache import ListingCache
from booking.people import PeopleMixin
from booking.policy import PAY_AT_HOSPITAL
from booking.rules import at, bucket_for, local_now, remote_quota
from booking.scripts import LuaScript
from booking.tcode import BufferedRandbelow, Rng, new_tcode
from booking.values import booking_from_hash, refused_error, same_request
from pii import mask_tail

log = Logger()
T = TypeVar("T")

REQUEST_TTL = 86400  # seconds an idempotency key replays its booking
MAX_ATTEMPTS = 5  # fresh T-code candidates tried before giving up
_MSISDN = re.compile(r"[1-9][0-9]{6,14}")  # E.164 digits, no '+'
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,15}")  # channel and language names


class SecondsClock(Protocol):
    def seconds(self) -> float: ...


class RedisBookingService(AvailabilityMixin, LifecycleMixin, PeopleMixin, AdminMixin):
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
        listing_cache_s: float = 0.0,
    ) -> None:
        self.redis = redis
        self.catalog = catalog
        self.policy = catalog.policy
        self.clock = clock
        self.rng = rng or BufferedRandbelow()
        self.retention_days = retention_days
        self.shares: dict[str, float] = {}  # admin overrides of remote_share (refresh_shares)
        self.random = secrets.SystemRandom()
        self._listeners: list[Any] = []
        self.last_sweep: Any = None  # Deferred of the sweeper's latest round
        self._tz = catalog.tz
        self.listings = ListingCache(listing_cache_s)  # "places left" screens, seconds old at most
        self._quota_cache: dict[tuple[str, str, dt.date, float], tuple[int, int, int, float]] = {}
        self._session_keys: dict[tuple[str, dt.date, str], tuple[list[str], int, str]] = {}
        self._prefixes: dict[tuple[Any, ...], str] = {}
        self._minute_cache: tuple[int, dt.datetime] = (-1, local_now(0.0, self._tz))
        lim = catalog.policy.limits
        self._caps = {"d": lim.per_day, "w": lim.per_7_days, "q": lim.per_90_days,
                      "ids": lim.ids_per_phone, "ops": lim.ops_per_minute}  # fmt: skip
        names = ("hold", "confirm", "expire", "cancel", "check_in", "avail", "avail_many")
        names += ("set_share",)
        names += ("register", "no_show", "shrink", "kiosk_lookup")
        self.scripts = {n: LuaScript(redis, n) for n in names}
        self._hold = self.scripts["hold"]
        self._book = self._hold  # the script that takes a place (older name)

    async def load_scripts(self) -> None:
        """SCRIPT LOAD every script now (optional: they are loaded on first NOSCRIPT anyway)."""
        for script in self.scripts.values():
            await script.load()

    def now(self) -> dt.datetime:
        return local_now(self.clock.seconds(), self._tz)

    # ---------------------------------------------------------------- script arguments

    def quota_args(
        self, dept: DepartmentConfig, tmpl: SessionTemplate, day: dt.date, now_s: float
    ) -> list[object]:
        """Script arguments places, reserve, remote quota, fallback for one session."""
        share = self.shares.get(dept.id, dept.remote_share)
        ck = (dept.id, tmpl.id, day, share)
        cached = self._quota_cache.get(ck)
        if cached is None:  # Fraction arithmetic and tz maths are slow: once per session
            if len(self._quota_cache) > 50000:
                self._quota_cache.clear()
            reserve = remote_quota(tmpl.places, self.policy.reserve_share)
            fb_at = at(day, tmpl.start, self._tz) - self.policy.fallback_minutes * 60
            cached = (tmpl.places, reserve, remote_quota(tmpl.places, share), fb_at)
            self._quota_cache[ck] = cached
        places, reserve, rq, fb_at = cached
        return [places, reserve, rq, 1 if now_s >= fb_at else 0]

    # ---------------------------------------------------------------- taking a place

    def _expire_at(self, day: dt.date) -> int:
        end = dt.datetime.combine(day + dt.timedelta(days=1 + self.retention_days), dt.time())
        return int(end.replace(tzinfo=self._tz).timestamp())

    def _per_session(self, d: str, day: dt.date, s: str) -> tuple[list[str], int, str]:
        """Cached per-session keys of hold.lua (ids, q, codes, ret, day index), expiry, day."""
        found = self._session_keys.get((d, day, s))
        if found is None:
            if len(self._session_keys) > 50000:
                self._session_keys.clear()
            ks = [keys.ids_of_day(d, day), keys.counts(d, day, s), keys.session_codes(d, day, s),
                  keys.returns(d, day, s)]  # fmt: skip
            found = (ks, self._expire_at(day), day.isoformat())
            self._session_keys[(d, day, s)] = found
        return found

    def _minute(self, now_s: float) -> tuple[int, dt.datetime]:
        """The clock minute and the local time at its start, computed once per minute (every
        rule boundary is a whole HH:MM, so decisions within a minute cannot differ)."""
        minute = int(now_s // 60)
        if self._minute_cache[0] != minute:
            self._minute_cache = (minute, local_now(minute * 60.0, self._tz))
        return self._minute_cache

    def _prefix(self, request: BookingRequest, share: float, pay_now: bool) -> str:
        """The JSON of everything in hold.lua's argument that is the same for every attempt on
        one session by one channel; cached, so an attempt only formats its own values."""
        d, day, s, channel = request.dept_id, request.day, request.session, request.channel
        ck = (d, day, s, channel, share, pay_now)
        found = self._prefixes.get(ck)
        if found is None:
            if len(self._prefixes) > 50000:
                self._prefixes.clear()
            dept = self.catalog.department(d)
            tmpl = dept.session(s) if dept else None
            assert dept is not None and tmpl is not None
            (_, _, _, _), expire_at, iso = self._per_session(d, day, s)
            places, reserve, rq, _ = self.quota_args(dept, tmpl, day, 0.0)
            fields = ["dept", d, "day", iso, "session", s, "channel", channel,
                      "status", "confirmed" if pay_now else "held", "bucket", bucket_for(channel)]
            head = {"ttl": REQUEST_TTL, "b": bucket_for(channel), "p": places, "v": reserve,
                    "rq": rq, "exp": expire_at, "cap": self._caps, "tag": f"{d}:{iso}:{s}",
                    "ord": day.toordinal(), "day": iso}  # fmt: skip
            found = json.dumps(head, separators=(",", ":"))[:-1] + ',"f":' + json.dumps(
                fields, separators=(",", ":")
            )[:-1]
            self._prefixes[ck] = found
        return found

    def hold_args(self, request: BookingRequest, now_s: float) -> tuple[list[str], str, str]:
        """KEYS (without the candidate's), hold.lua's JSON argument and the normalised ID.

        Every value formatted into the JSON is validated first (digits, catalog ids, a channel
        and language name), so nothing needs escaping. The benchmark's raw baseline reuses this.
        """
        minute, now = self._minute(now_s)
        id_number = normalize_resident_id(request.id_number)
        if not is_valid_resident_id(id_number, today=now.date()):
            raise BookingError("invalid_id", "That ID number is not valid. Please check it.")
        d, day, s, channel = request.dept_id, request.day, request.session, request.channel
        dept = self.catalog.department(d)
        tmpl = dept.session(s) if dept else None
        onsite = channel in ("onsite", "desk", "reserve", "referral")
        if dept is None or tmpl is None or not (onsite or self.is_bookable(day, now)):
            raise BookingError("closed", "That session cannot be booked remotely.")
        if onsite and now_s >= at(day, tmpl.end, self._tz):  # the desk books until the end
            raise BookingError("closed", "That session is over.")
        if not _MSISDN.fullmatch(request.msisdn) or not _NAME.fullmatch(channel):
            raise BookingError("bad_request", "msisdn (E.164 digits) and channel are required.")
        p = self.policy
        pay_now = p.payment == PAY_AT_HOSPITAL or onsite
        hu = 0 if pay_now else int(now_s + p.hold_minutes * 60)
        share = self.shares.get(d, dept.remote_share)
        fb = 1 if self.quota_args(dept, tmpl, day, now_s)[3] else 0
        lang = request.lang if _NAME.fullmatch(request.lang or "") else "zh"
        m, t = request.msisdn, repr(now_s)
        arg = (
            f'{self._prefix(request, share, pay_now)},"id","{id_number}","msisdn","{m}",'
            f'"created_at","{t}","lang","{lang}","hold_until","{hu}"],'
            f'"req":{1 if request.request_key else 0},"id":"{id_number}",'
            f'"h":"{keys.id_digest(id_number)}","m":"{m}","min":{minute},"fb":{fb},'
            f'"now":{t},"hu":{hu}}}'
        )
        (ids, q, codes, ret), _, _ = self._per_session(d, day, s)
        return [keys.request(request.request_key or "-"), ids, q, codes, ret], arg, id_number

    async def book(self, request: BookingRequest) -> Booking:
        """Take a place: confirmed at once (pay at the hospital) or held until paid."""
        now_s = self.clock.seconds()
        keys_, arg, id_number = self.hold_args(request, now_s)
        for _ in range(MAX_ATTEMPTS):
            code = new_tcode(self.rng)
            keys_code = [*keys_, keys.booking(code)]
            try:  # the hot path calls EVALSHA itself; LuaScript reloads after NOSCRIPT
                status, detail = await self.redis.evalsha(self._hold.sha, keys_code, [arg, code])
            except txredisapi.ScriptDoesNotExist:
                status, detail = await self._hold(keys_code, [arg, code])
            if status == "ok":
                booking = self._taken(request, id_number, code, now_s)
                log.info(
                    "booking.taken dept={dept} day={day} session={session} id={id} status={st}",
                    dept=booking.dept_id, day=booking.day.isoformat(), session=booking.session,
                    id=mask_tail(booking.id_number), st=booking.status.value,
                )  # fmt: skip
                if booking.status.value == "confirmed":
                    self._notify(booking)
                return booking
            if status == "again":
                return same_request(await self._load(detail), request, id_number)
            if status != "retry":
                if status == "full":
                    self.listings.drop(request.dept_id)  # the next screen shows the truth
                raise self._refused(status, detail)
        raise BookingError("error", "Booking is busy, please try again.")

    def _taken(self, request: BookingRequest, id_number: str, code: str, now_s: float) -> Booking:
        """The Booking hold.lua just wrote (the same fields, without reading them back)."""
        onsite = request.channel in ("onsite", "desk", "reserve", "referral")
        pay_now = self.policy.payment == PAY_AT_HOSPITAL or onsite
        hu = 0 if pay_now else int(now_s + self.policy.hold_minutes * 60)
        return self._booking({
            "tcode": code, "dept": request.dept_id, "day": request.day.isoformat(),
            "session": request.session, "id": id_number, "msisdn": request.msisdn,
            "channel": request.channel, "status": "confirmed" if pay_now else "held",
            "created_at": repr(now_s), "bucket": bucket_for(request.channel),
            "lang": request.lang, "hold_until": str(hu),
        })  # fmt: skip

    def _booking(self, h: dict[str, str]) -> Booking:
        return booking_from_hash(self.catalog, h)

    def _refused(self, status: str, detail: str) -> BookingError:
        return refused_error(status, detail, self._tz)

