"""People: IDs bound to a phone, no-shows and the blacklist ladder.

One part of ``booking.store.RedisBookingService``. Keys are per ID digest (``keys.id_digest``) so
full ID numbers never appear in key names.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from booking._types import Scripts, SecondsClock
from booking.api import BookingError
from booking.idcard import is_valid_resident_id, normalize_resident_id
from booking.keys import PLATFORM, id_digest
from booking.part import Part, Scope
from booking.rules import at
from pii import mask_text

DAY = 86400
APPEAL_CHARS = 300  # an appeal's text kept (a long MO SMS is several parts)


class People(Part):
    """The IDs a phone books for, and the bars earned by missed visits."""

    def __init__(
        self, redis: Any, scope: Scope, clock: SecondsClock, scripts: Scripts, *,
        retention_days: int,
    ) -> None:
        self.redis = redis
        super().__init__(scope, clock)
        self.scripts = scripts
        self.retention_days = retention_days

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        id_number = normalize_resident_id(id_number)
        if not is_valid_resident_id(id_number, today=self.now().date()):
            raise BookingError("invalid_id", "That ID number is not valid. Please check it.")
        reply = await self.scripts["register"](
            [PLATFORM.phone_ids(msisdn)], [id_number, self.scope.platform_limits.ids_per_phone]
        )
        if reply != "ok":
            raise BookingError(
                "limit", "This phone number already books for the most ID numbers allowed."
            )
        return await self.registered_ids(msisdn)

    async def registered_ids(self, msisdn: str) -> list[str]:
        return sorted(await self.redis.smembers(PLATFORM.phone_ids(msisdn)))

    # ---------------------------------------------------------------- blacklist

    async def blacklist(self, only: str | None = None) -> list[dict[str, Any]]:
        """IDs barred now in this part's blacklist: ``{"id_digest", "until", "since", "reason",
        "hospital", "appeal"}``; ``only``: the bars earned at that hospital."""
        now_s = self.clock.seconds()
        rows = []
        bars = self.keys.bars
        for idh in await self.redis.zrangebyscore(bars.index, now_s, "+inf"):
            h = await self.redis.hgetall(bars.bar(idh))
            if h and (only is None or h.get("hospital", "") == only):
                rows.append({"id_digest": idh, **dict(h)})
        return rows

    async def barred_until(self, id_number: str) -> float | None:
        idh = id_digest(normalize_resident_id(id_number))
        until = await self.redis.hget(self.keys.bars.bar(idh), "until")
        return float(until) if until and float(until) > self.clock.seconds() else None

    async def lift(
        self, id_or_digest: str, reason: str, appeal: str = "", only: str | None = None
    ) -> bool:
        """Lift a bar now, recording why (and an appeal note); False when none was in force
        (or, with ``only``, when the bar was earned at another hospital)."""
        if not reason.strip():
            raise BookingError("bad_request", "A reason is required to lift a bar.")
        idh = id_or_digest
        if len(id_or_digest) == 18:
            idh = id_digest(normalize_resident_id(id_or_digest))
        bar = self.keys.bars.bar(idh)
        h = await self.redis.hgetall(bar)
        if not h or float(h.get("until", 0)) <= self.clock.seconds():
            return False
        if only is not None and h.get("hospital", "") != only:
            return False
        now_s = self.clock.seconds()
        await self.redis.hset(bar, "until", repr(now_s))
        await self.redis.hset(bar, "lifted_at", repr(now_s))
        await self.redis.hset(bar, "lift_reason", reason.strip()[:200])
        if appeal:
            await self.redis.hset(bar, "appeal", appeal.strip()[:500])
        await self.redis.zrem(self.keys.bars.index, idh)
        await self.redis.delete(self.keys.person.noshows(idh))
        return True

    # ---------------------------------------------------------------- appeals

    async def appeal(self, id_number: str, msisdn: str, text: str, lang: str) -> dict | None:
        """File the appeal of a barred ID (a later one replaces it: one per bar, so a sender
        cannot grow the queue); the bar's row, or None when the ID is not barred here. A phone
        or ID number in the text is masked before it is kept (staff screens, the audit log)."""
        idh = id_digest(normalize_resident_id(id_number))
        bar = self.keys.bars.bar(idh)
        h = await self.redis.hgetall(bar)
        now_s = self.clock.seconds()
        if not h or float(h.get("until", 0)) <= now_s:
            return None
        fields = {"appeal": mask_text(text.strip()[:APPEAL_CHARS]), "appeal_at": repr(now_s),
                  "appeal_msisdn": msisdn, "appeal_lang": lang}
        await self.redis.hmset(bar, fields)
        await self.redis.zadd(self.keys.bars.appeals, now_s, idh)
        return {"id_digest": idh, **dict(h), **fields}

    async def appeals(self, only: str | None = None) -> list[dict[str, Any]]:
        """The appeals waiting for a decision, oldest first (``only``: of bars earned at that
        hospital); an appeal whose bar ran out meanwhile is dropped from the queue."""
        now_s = self.clock.seconds()
        rows = []
        for idh in await self.redis.zrange(self.keys.bars.appeals, 0, -1):
            h = await self.redis.hgetall(self.keys.bars.bar(idh))
            if not h or float(h.get("until", 0)) <= now_s:
                await self.redis.zrem(self.keys.bars.appeals, idh)
                continue
            if only is None or h.get("hospital", "") == only:
                rows.append({"id_digest": idh, **dict(h)})
        return rows

    async def close_appeal(self, idh: str, decision: str, reason: str,
                           only: str | None = None) -> dict[str, Any] | None:
        """Take a waiting appeal off the queue, recording the decision (``lifted`` or
        ``refused``) and its reason on the bar; the bar's row as it was, or None when no such
        appeal waits (or, with ``only``, its bar was earned at another hospital)."""
        rows = [r for r in await self.appeals(only) if r["id_digest"] == idh]
        if not rows:
            return None
        await self.redis.zrem(self.keys.bars.appeals, idh)
        await self.redis.hmset(self.keys.bars.bar(idh), {
            "appeal_decision": decision, "appeal_reason": reason.strip()[:200],
            "appeal_decided_at": repr(self.clock.seconds())})
        return rows[0]

    # ---------------------------------------------------------------- no-shows

    async def sweep_no_shows(self) -> int:
        """Turn confirmed bookings of ended sessions (end + grace) into no-shows; returns how many.

        Catches up: looks at every day from the one after the last day it completed (the
        hospital's ``ns:last``; with none, ``retention_days`` back, as far as bookings are kept)
        to today, so a node that was down for days marks every missed day's no-shows. Each
        session is marked done (``ns:done:<day>``) and a day is completed once all its sessions
        are, so a restarted server picks up exactly where it left off.
        """
        now_s = self.clock.seconds()
        today = self.now().date()
        last = await self.redis.get(self.keys.noshow_last)
        oldest = today - dt.timedelta(days=self.retention_days)
        first = oldest
        if last:
            first = max(dt.date.fromisoformat(str(last)) + dt.timedelta(days=1), oldest)
        count, completed, contiguous = 0, None, True
        day = first
        while day <= today:
            marked, done = await self._sweep_day(day, now_s)
            count += marked
            contiguous = contiguous and done and day < today
            if contiguous:
                completed = day
            day += dt.timedelta(days=1)
        if completed is not None:
            await self.redis.set(self.keys.noshow_last, completed.isoformat())
        return count

    async def _sweep_day(self, day: dt.date, now_s: float) -> tuple[int, bool]:
        """The no-shows of ``day``'s ended sessions; (how many, whether every session is done)."""
        grace = self.policy.noshow_grace_minutes * 60
        lim, k = self.limits, self.keys
        count, complete = 0, True
        for tag in await self.redis.smembers(k.day_index(day)):
            if await self.redis.sismember(k.noshow_done(day), tag):
                continue
            dept_id, _, session = tag.split(":")
            dept = self.catalog.department(dept_id)
            tmpl = dept.session(session) if dept else None
            if tmpl is None:
                continue  # no longer in the catalog: no end time to judge by
            if at(day, tmpl.end, self._tz) + grace > now_s:
                complete = False
                continue
            for code in await self.redis.smembers(k.session_codes(dept_id, day, session)):
                h = await self.redis.hgetall(PLATFORM.booking(code))
                if h.get("status") != "confirmed":
                    continue
                idh = id_digest(h["id"])
                reply = await self.scripts["no_show"](
                    [PLATFORM.booking(code), k.person.noshows(idh), k.bars.bar(idh),
                     k.bars.index, PLATFORM.events],
                    [code, now_s, lim.noshow_window_days * DAY, lim.noshow_count,
                     lim.barred_days * DAY, idh, self.catalog.id],
                )  # fmt: skip
                count += reply[0] == "no_show"
            await self.redis.sadd(k.noshow_done(day), tag)
            await self.redis.expire(k.noshow_done(day), 3 * DAY)
        return count, complete
