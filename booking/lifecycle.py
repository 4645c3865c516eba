"""What happens to a booking after its place is taken: payment, expiry, cancel, kiosk.

One part of ``booking.store.RedisBookingService``. Each transition is one Lua script that
re-checks the status, so a payment racing the sweeper, or a cancel racing a check-in, resolves
one way.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from booking._types import Scripts, SecondsClock
from booking.api import Booking, BookingError, RateLimited
from booking.keys import PLATFORM, HospitalKeys, id_digest
from booking.listeners import Listeners
from booking.part import Part, Scope
from booking.policy import Policy
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


def release_keys(k: HospitalKeys, h: dict[str, str]) -> list[str]:
    """KEYS 1-8 of the scripts that take a booking out of its indexes (lib.lua ``release``)."""
    d, day, s = h["dept"], dt.date.fromisoformat(h["day"]), h["session"]
    idh = id_digest(h["id"])
    return [
        PLATFORM.booking(h["tcode"]), k.ids_of_day(d, day), k.counts(d, day, s),
        k.returns(d, day, s), k.holds, k.person.bookings(idh), k.person.days(idh),
        PLATFORM.phone_bookings(h["msisdn"]),
    ]  # fmt: skip


async def kiosk_lookup(
    script: Any, records: Records, tcode: str, kiosk_id: str | None, client: str | None,
    failures: Any, policy: Policy, now_s: float,
) -> dict[str, str]:
    """The booking's hash for a kiosk. A wrong code counts against the kiosk, the client
    address and the hospital (``failures(kind, who)``: the counters' keys, of the kiosk's
    hospital); over any of their limits nothing is looked up (RateLimited). The check, the
    lookup and the count are one script, so concurrent guesses from any process cannot pass a
    limit. Without a kiosk or client (a trusted caller): no limit."""
    if not kiosk_id and not client:
        return await records.hash(tcode)
    p = policy
    logs = [(failures("h", "-"), p.kiosk_failures_per_hospital_per_minute)]
    if kiosk_id:
        logs.append((failures("k", kiosk_id), p.kiosk_failures_per_minute))
    if client:
        logs.append((failures("a", client), p.kiosk_failures_per_address_per_minute))
    reply = await script(
        [PLATFORM.booking(tcode if is_well_formed(tcode) else "-"), *(k for k, _ in logs)],
        [repr(now_s), KIOSK_WINDOW_S, int(is_well_formed(tcode)), *(n for _, n in logs)],
    )
    if reply[0] == "rate_limited":
        raise RateLimited(KIOSK_LIMITED, int(reply[1]))
    if reply[0] != "ok":
        raise BookingError("not_found", NOT_FOUND)
    return dict(zip(reply[1::2], reply[2::2], strict=True))


class Lifecycle(Part):
    """Payment, expiry, cancel and the kiosk's verify and check-in of taken places."""

    def __init__(
        self, redis: Any, scope: Scope, clock: SecondsClock, scripts: Scripts, *,
        records: Records, listeners: Listeners, draw: Callable[[], float] | None = None,
    ) -> None:
        self.redis = redis
        super().__init__(scope, clock)
        self.scripts = scripts
        self.records = records
        self.listeners = listeners
        self.draw = draw or secrets.SystemRandom().random  # where in the return delay a
        # cancelled place comes back

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
        stored = await self.redis.hgetall(PLATFORM.booking(tcode))
        if not stored:
            return "unknown"
        now_s = self.clock.seconds()
        dept = self.catalog.department(stored["dept"])
        fee = "" if dept is None else dept.fee  # a department since removed: not checked
        if amount is None:
            amount = dept.fee if dept is not None else 0
        outcome, fresh = await self.scripts["confirm"](
            [*release_keys(self.keys, dict(stored)), PLATFORM.events, PLATFORM.payment(txn_id)],
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
        holds = self.keys.holds
        due = await self.redis.zrangebyscore(holds, "-inf", now_s, offset=0, count=limit)
        expired = 0
        for tcode in due:
            stored = await self.redis.hgetall(PLATFORM.booking(tcode))
            if not stored:
                await self.redis.zrem(holds, tcode)
                continue
            reply = await self.scripts["expire"](release_keys(self.keys, dict(stored)),
                                                 [tcode, now_s])  # fmt: skip
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
        back = return_time(now_s, self.policy.return_delay_minutes, self.draw())
        caller = msisdn or ""
        rl = PLATFORM.rate("p", caller, int(now_s // 60)) if caller else PLATFORM.rate("p", "-", 0)
        lim, k = self.limits, self.keys
        idh = id_digest(h["id"])
        reply = await self.scripts["cancel"](
            [*release_keys(k, h), PLATFORM.events, rl, k.person.cancels(idh), k.bars.bar(idh),
             k.bars.index],
            [tcode, now_s, back if reason == "patient" else now_s, caller, 1 if late else 0,
             self.scope.platform_limits.ops_per_minute, reason, idh,
             lim.cancel_window_days * 86400, lim.cancel_count, lim.cancel_barred_days * 86400,
             self.catalog.id],
        )  # fmt: skip
        if reply != "ok":
            raise refusal({"checked_in": "already_checked_in"}.get(reply, reply))
        log.info("booking.cancelled day={day} reason={r}", day=h["day"], r=reason)
        return await self.records.load(tcode)

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

    def verify(self, h: dict[str, str]) -> Booking:
        """The booking (of this hospital) if it can be checked in now; raises BookingError."""
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

    async def check_in(self, h: dict[str, str], kiosk_id: str) -> Booking:
        """Check the booking (of this hospital) in, once."""
        now_s = self.clock.seconds()
        today = local_now(now_s, self._tz).date().isoformat()
        window = self._window(h)
        args = [today, repr(now_s), kiosk_id, *(window or ("", ""))]
        reply = await self.scripts["check_in"]([PLATFORM.booking(h["tcode"])], args)
        if reply[0] != "ok":
            raise refusal(reply[0])
        stored = dict(zip(reply[1::2], reply[2::2], strict=True))
        log.info("booking.checked_in kiosk={kiosk} day={day}", kiosk=kiosk_id, day=today)
        return self.records.booking(stored)
