"""Taking a place: the hot path of a flash crowd, one EVALSHA of ``hold.lua`` per attempt.

One part of ``booking.store.RedisBookingService``. It reads the clock, validates the request,
then lets the script decide atomically (rate limits, blacklist, caps, quota by channel,
idempotency, T-code uniqueness, the event for the SMS). Everything that is the same for every
attempt on one session is computed once and cached, so an attempt formats only its own values.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import txredisapi
from twisted.logger import Logger

from booking._types import Scripts, SecondsClock
from booking.api import Booking, BookingError, BookingRequest
from booking.checks import ONSITE, checked_request, notice_lang
from booking.keys import PLATFORM, id_digest
from booking.listeners import Listeners
from booking.listing_cache import ListingCache
from booking.part import Part, Scope
from booking.policy import PAY_AT_HOSPITAL
from booking.quota import Quotas
from booking.records import Records
from booking.rules import bucket_for, local_now
from booking.tcode import Rng, new_tcode
from booking.values import refused_error, same_request
from pii import mask_tail

log = Logger()

REQUEST_TTL = 86400  # seconds an idempotency key replays its booking
MAX_ATTEMPTS = 5  # fresh T-code candidates tried before giving up


class Holds(Part):
    """Takes places: confirmed at once (pay at the hospital) or held until paid."""

    def __init__(
        self, redis: Any, scope: Scope, clock: SecondsClock, scripts: Scripts, *,
        quotas: Quotas, records: Records, listeners: Listeners, listings: ListingCache,
        rng: Rng, retention_days: int,
    ) -> None:
        self.redis = redis
        super().__init__(scope, clock)
        self.script = scripts["hold"]
        self.quotas = quotas
        self.records = records
        self.listeners = listeners
        self.listings = listings
        self.rng = rng
        self.retention_days = retention_days
        self._session_keys: dict[tuple[str, dt.date, str], tuple[list[str], int, str]] = {}
        self._prefixes: dict[tuple[Any, ...], str] = {}
        self._minute_cache: tuple[int, dt.datetime] = (-1, local_now(0.0, self._tz))
        lim, top = scope.limits, scope.platform_limits
        self._caps = {"d": lim.per_day, "w": lim.per_7_days, "q": lim.per_90_days,
                      "ids": top.ids_per_phone, "ops": top.ops_per_minute}  # fmt: skip

    def _expire_at(self, day: dt.date) -> int:
        end = dt.datetime.combine(day + dt.timedelta(days=1 + self.retention_days), dt.time())
        return int(end.replace(tzinfo=self._tz).timestamp())

    def _per_session(self, d: str, day: dt.date, s: str) -> tuple[list[str], int, str]:
        """Cached per-session keys of hold.lua (ids, q, codes, ret, day index), expiry, day."""
        found = self._session_keys.get((d, day, s))
        if found is None:
            if len(self._session_keys) > 50000:
                self._session_keys.clear()
            k = self.keys
            ks = [k.ids_of_day(d, day), k.counts(d, day, s), k.session_codes(d, day, s),
                  k.returns(d, day, s)]  # fmt: skip
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
            places, reserve, rq, _ = self.quotas.args(dept, tmpl, day, 0.0)
            fields = ["hospital", self.catalog.id, "dept", d, "day", iso, "session", s,
                      "channel", channel,
                      "status", "confirmed" if pay_now else "held", "bucket", bucket_for(channel)]
            head = {"ttl": REQUEST_TTL, "b": bucket_for(channel), "p": places, "v": reserve,
                    "rq": rq, "exp": expire_at, "cap": self._caps, "tag": f"{d}:{iso}:{s}",
                    "ord": day.toordinal(), "day": iso, "hp": self.keys.prefix,
                    "pp": self.keys.person.prefix, "bp": self.keys.bars.prefix}  # fmt: skip
            found = json.dumps(head, separators=(",", ":"))[:-1] + ',"f":' + json.dumps(
                fields, separators=(",", ":")
            )[:-1]
            self._prefixes[ck] = found
        return found

    def args(self, request: BookingRequest, now_s: float) -> tuple[list[str], str, str]:
        """KEYS (without the candidate's), hold.lua's JSON argument and the normalised ID.

        Every value formatted into the JSON is validated first (digits, catalog ids, a channel
        and language name, a source of safe characters), so nothing needs escaping. The
        benchmark's raw baseline reuses this.
        """
        minute, now = self._minute(now_s)
        id_number, dept, tmpl, pay_now = checked_request(request, self.catalog, now_s, now)
        d, day, s = request.dept_id, request.day, request.session
        p = self.policy
        hu = 0 if pay_now else int(now_s + p.hold_minutes * 60)
        share = self.quotas.share(dept)
        fb = 1 if self.quotas.args(dept, tmpl, day, now_s)[3] else 0
        lang = notice_lang(request)
        m, t = request.msisdn, repr(now_s)
        src = f',"source","{request.source}"' if request.source else ""
        arg = (
            f'{self._prefix(request, share, pay_now)},"id","{id_number}","msisdn","{m}",'
            f'"created_at","{t}","lang","{lang}","hold_until","{hu}"{src}],'
            f'"req":{1 if request.request_key else 0},"id":"{id_number}",'
            f'"h":"{id_digest(id_number)}","m":"{m}","min":{minute},"fb":{fb},'
            f'"now":{t},"hu":{hu}}}'
        )
        (ids, q, codes, ret), _, _ = self._per_session(d, day, s)
        return [PLATFORM.request(request.request_key or "-"), ids, q, codes, ret], arg, id_number

    async def book(self, request: BookingRequest) -> Booking:
        """Take a place: confirmed at once (pay at the hospital) or held until paid."""
        now_s = self.clock.seconds()
        keys_, arg, id_number = self.args(request, now_s)
        for _ in range(MAX_ATTEMPTS):
            code = new_tcode(self.rng)
            keys_code = [*keys_, PLATFORM.booking(code)]
            try:  # the hot path calls EVALSHA itself; LuaScript reloads after NOSCRIPT
                status, detail = await self.redis.evalsha(self.script.sha, keys_code, [arg, code])
            except txredisapi.ScriptDoesNotExist:
                status, detail = await self.script(keys_code, [arg, code])
            if status == "ok":
                booking = self._taken(request, id_number, code, now_s)
                log.info(
                    "booking.taken hospital={hospital} dept={dept} day={day} session={session} "
                    "id={id} status={st}", hospital=booking.hospital_id, dept=booking.dept_id,
                    day=booking.day.isoformat(), session=booking.session,
                    id=mask_tail(booking.id_number), st=booking.status.value,
                )  # fmt: skip
                if booking.status.value == "confirmed":
                    self.listeners.notify(booking)
                return booking
            if status == "again":
                return same_request(await self.records.load(detail), request, id_number)
            if status != "retry":
                if status == "full":
                    self.listings.drop(request.dept_id)  # the next screen shows the truth
                raise refused_error(status, detail, self._tz)
        raise BookingError("error", "Booking is busy, please try again.")

    def _taken(self, request: BookingRequest, id_number: str, code: str, now_s: float) -> Booking:
        """The Booking hold.lua just wrote (the same fields, without reading them back)."""
        onsite = request.channel in ONSITE
        pay_now = self.policy.payment == PAY_AT_HOSPITAL or onsite
        hu = 0 if pay_now else int(now_s + self.policy.hold_minutes * 60)
        return self.records.booking({
            "tcode": code, "hospital": self.catalog.id, "dept": request.dept_id,
            "day": request.day.isoformat(),
            "session": request.session, "id": id_number, "msisdn": request.msisdn,
            "channel": request.channel, "status": "confirmed" if pay_now else "held",
            "created_at": repr(now_s), "bucket": bucket_for(request.channel),
            "lang": request.lang, "hold_until": str(hu), "source": request.source,
        })  # fmt: skip
