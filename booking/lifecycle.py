"""What happens to a booking after its place is taken: payment, expiry, cancel, kiosk.

One part of ``booking.store.RedisBookingService``. Each transition is one Lua script that
re-checks the status, so a payment racing the sweeper, or a cancel racing a check-in, resolves
one way.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from twisted.logger import Logger

from booking import keys
from booking._types import Scripts, SecondsClock
from booking.api import Booking, BookingError, RateLimited
from booking.catalog import HospitalConfig
from booking.listeners import Listeners
from booking.part import Part
from booking.records import Records
from booking.rules import (
    cancel_too_late,
    check_in_refusal,
    check_in_window,
    local_now,
    return_time,
)
from booking.tcode import is_well_formed
from booking.values import NOT_FOUND, refusal

log = Logger()
PAYMENT_TTL = 30 * 86400  # a payment callback replayed within this time gets the same answer
SWEEP_BATCH = 200
KIOSK_WINDOW_S = 60  # the kiosk limits count wrong codes in any such sliding window
KIOSK_LIMITED = "Too many wrong codes. Please wait a minute or ask at the desk."


def release_keys(h: dict[str, str]) -> list[str]:
    """KEYS 1-8 of the scripts that take a booking out of its indexes (lib.lua ``release``)."""
    d, day, s = h["dept"], dt.date.fromisoformat(h["day"]), h["session"]
    idh = keys.id_digest(h["id"])
    return [
        keys.booking(h["tcode"]), keys.ids_of_day(d, day), keys.counts(d, day, s),
        keys.returns(d, day, s), keys.HOLDS, keys.person_bookings(idh), keys.person_days(idh),
        keys.phone_bookings(h["msisdn"]),
    ]  # fmt: skip


class Lifecycle(Part):
    """Payment, expiry, cancel and the kiosk's verify and check-in of taken places."""

    def __init__(
        self, redis: Any, catalog: HospitalConfig, clock: SecondsClock, scripts: Scripts, *,
        records: Records, listeners: Listeners,
    ) -> None:
        self.redis = redis
        super().__init__(catalog, clock)
        self.scripts = scripts
        self.records = records
        self.listeners = listeners
        self.random = secrets.SystemRandom()  # the delay before a cancelled place returns

    # ---------------------------------------------------------------- payment and expiry

    async def confirm_payment(self, tcode: str, txn_id: str, amount: int | None = None) -> str:
        """Apply a payment: ``booked``, ``refund`` (hold lapsed, cancelled or paid twice) or
        ``unknown``. The same ``txn_id`` always gets the first answer and changes nothing.

        An ``amount`` other than the department's fee is refused (``amount_mismatch``) before
        anything is recorded, so it changes nothing and the same request is refused again.
        ``amount`` None: the fee (an in-process caller that knows what was paid)."""
        if not txn_id or len(txn_id) > 128:
            raise BookingError("bad_request", "txn_id must be 1 to 128 characters.")
        if not is_well_formed(tcode):
            return "unknown"
        stored = await self.redis.hgetall(keys.booking(tcode))
        if not stored:
            return "unknown"
        now_s = self.clock.seconds()
        dept = self.catalog.department(stored["dept"])
        fee = "" if dept is None else dept.fee  # a department since removed: not checked
        if amount is None:
            amount = dept.fee if dept is not None else 0
        outcome, fresh = await self.scripts["confirm"](
            [*release_keys(dict(stored)), keys.EVENTS, keys.payment(txn_id)],
            [tcode, now_s, txn_id, PAYMENT_TTL, amount, fee],
        )
        if outcome == "amount_mismatch":
            log.warn("booking.payment_refused why=amount_mismatch amount={a} fee={f} txn={t}",
                     a=amount, f=fresh, t=txn_id[-6:])
            raise BookingError("amount_mismatch",
                               f"The amount {amount} does not match the fee {fresh} (fen).")
        if outcome == "booked" and fresh == "new":
            self.listeners.notify(await self.records.load(tcode))
        log.info("booking.payment outcome={o} txn={t}", o=outcome, t=txn_id[-6:])
        return str(outcome)

    async def expire_due(self, limit: int = SWEEP_BATCH) -> int:
        """Release every hold whose deadline passed (at most ``limit``); returns how many."""
        now_s = self.clock.seconds()
        due = await self.redis.zrangebyscore(keys.HOLDS, "-inf", now_s, offset=0, count=limit)
        expired = 0
        for tcode in due:
            stored = await self.redis.hgetall(keys.booking(tcode))
            if not stored:
                await self.redis.zrem(keys.HOLDS, tcode)
                continue
            reply = await self.scripts["expire"](release_keys(dict(stored)), [tcode, now_s])
            expired += reply == "expired"
        return expired

    # ---------------------------------------------------------------- cancel

    async def cancel(
        self, tcode: str, msisdn: str | None = None, reason: str = "patient"
    ) -> Booking:
        """Cancel a held or confirmed booking (see booking.api); ``reason`` other than "patient"
        is a hospital cancel: no deadline, and the event is ``schedule_cancelled``."""
        h = await self.records.hash(tcode)
        now_s = self.clock.seconds()
        now = local_now(now_s, self._tz)
        day = dt.date.fromisoformat(h["day"])
        late = reason == "patient" and cancel_too_late(day, now, self.policy.cancel_deadline)
        back = return_time(now_s, self.policy.return_delay_minutes, self.random.random())
        caller = msisdn or ""
        rl = keys.rate("p", caller, int(now_s // 60)) if caller else keys.rate("p", "-", 0)
        lim = self.policy.limits
        idh = keys.id_digest(h["id"])
        reply = await self.scripts["cancel"](
            [*release_keys(h), keys.EVENTS, rl, keys.person_cancels(idh), keys.blacklist(idh),
             keys.BLACKLIST_INDEX],
            [tcode, now_s, back if reason == "patient" else now_s, caller, 1 if late else 0,
             lim.ops_per_minute, reason, idh, lim.cancel_window_days * 86400, lim.cancel_count,
             lim.cancel_barred_days * 86400],
        )  # fmt: skip
        if reply != "ok":
            raise refusal({"checked_in": "already_checked_in"}.get(reply, reply))
        log.info("booking.cancelled day={day} reason={r}", day=h["day"], r=reason)
        return await self.records.load(tcode)

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        codes = await self.redis.zrange(keys.phone_bookings(msisdn), 0, -1)
        found = []
        for code in codes:
            stored = await self.redis.hgetall(keys.booking(code))
            if stored and stored.get("status") in ("held", "confirmed"):
                found.append(self.records.booking(dict(stored)))
        return found

    # ---------------------------------------------------------------- kiosk

    def _window(self, h: dict[str, str]) -> tuple[float, float] | None:
        """When the booking may be checked in, or None when the hospital checks only the day."""
        dept = self.catalog.department(h["dept"])
        tmpl = dept.session(h["session"]) if dept else None
        if tmpl is None or not self.policy.checkin_window:
            return None
        p = self.policy
        day = dt.date.fromisoformat(h["day"])
        return check_in_window(
            day, tmpl.start, tmpl.end, self._tz, p.checkin_early_minutes, p.checkin_late_minutes
        )

    async def _kiosk_lookup(
        self, tcode: str, kiosk_id: str | None, client: str | None
    ) -> dict[str, str]:
        """The booking's hash for a kiosk. A wrong code counts against the kiosk, the client
        address and the hospital; over any of their limits nothing is looked up (RateLimited).
        The check, the lookup and the count are one script, so concurrent guesses from any
        process cannot pass a limit. Without a kiosk or client (a trusted caller): no limit."""
        if not kiosk_id and not client:
            return await self.records.hash(tcode)
        p = self.policy
        logs = [(keys.kiosk_failures("h", "-"), p.kiosk_failures_per_hospital_per_minute)]
        if kiosk_id:
            logs.append((keys.kiosk_failures("k", kiosk_id), p.kiosk_failures_per_minute))
        if client:
            limit = p.kiosk_failures_per_address_per_minute
            logs.append((keys.kiosk_failures("a", client), limit))
        reply = await self.scripts["kiosk_lookup"](
            [keys.booking(tcode if is_well_formed(tcode) else "-"), *(k for k, _ in logs)],
            [repr(self.clock.seconds()), KIOSK_WINDOW_S, int(is_well_formed(tcode)),
             *(n for _, n in logs)],
        )  # fmt: skip
        if reply[0] == "rate_limited":
            raise RateLimited(KIOSK_LIMITED, int(reply[1]))
        if reply[0] != "ok":
            raise BookingError("not_found", NOT_FOUND)
        return dict(zip(reply[1::2], reply[2::2], strict=True))

    async def verify(
        self, tcode: str, kiosk_id: str | None = None, client: str | None = None
    ) -> Booking:
        h = await self._kiosk_lookup(tcode, kiosk_id, client)
        booking = self.records.booking(h)
        now = local_now(self.clock.seconds(), self._tz)
        why = check_in_refusal(booking.status.value, booking.day, now)
        if why is None and booking.status.value != "confirmed":
            why = booking.status.value
        window = self._window(h)
        if why is None and window is not None:
            now_s = self.clock.seconds()
            why = "too_early" if now_s < window[0] else "too_late" if now_s > window[1] else None
        if why:
            raise refusal(why)
        return booking

    async def check_in(self, tcode: str, kiosk_id: str, client: str | None = None) -> Booking:
        if not kiosk_id or len(kiosk_id) > 64:
            raise BookingError("bad_request", "kiosk_id must be 1 to 64 characters.")
        h = await self._kiosk_lookup(tcode, kiosk_id, client)
        now_s = self.clock.seconds()
        today = local_now(now_s, self._tz).date().isoformat()
        window = self._window(h)
        args = [today, repr(now_s), kiosk_id, *(window or ("", ""))]
        reply = await self.scripts["check_in"]([keys.booking(tcode)], args)
        if reply[0] != "ok":
            raise refusal(reply[0])
        stored = dict(zip(reply[1::2], reply[2::2], strict=True))
        log.info("booking.checked_in kiosk={kiosk} day={day}", kiosk=kiosk_id, day=today)
        return self.records.booking(stored)
