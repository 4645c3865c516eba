"""Booking events -> SMS: the consumer of the ``hl:events`` stream (contract 1, docs/sms.md).

Booking's Lua scripts XADD an event in the same script that changes the booking, so none is
lost.  Here a consumer group (``sms``) reads them with XREADGROUP, renders each into an SMS and
writes it to the durable outbox; only then is the event XACKed.  After a crash the entries this
consumer had read but not acknowledged (its pending list) are read again first, and entries a
dead consumer left pending longer than ``claim_idle`` are claimed (XAUTOCLAIM).  Re-reading is
harmless: each SMS has an idempotency key (``<type>:<tcode>``).

It polls every ``interval`` (0.05 s): a batch is handled in one go (render, outbox, SMPP), so
a longer interval makes bigger batches on a busy node, each a stall that every USSD hop and call
arriving meanwhile waits out (bench/RESULTS.md, "A long reactor turn is a stall").

Reminders: a ``booked`` event also records the reminder in Redis (zset by due time, the day
before the visit at ``reminder_hour``); a cancellation removes it.  ``poll`` sends the reminders
that are due, so a restart loses none (no timer holds them).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from twisted.internet import defer, task
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from notify.templates import PARTS_BUDGET, CountBooking, Renderer, no_count
from sms import encoding
from sms.api import OutgoingSms

log = Logger(namespace="notify.events")

STREAM = "hl:events"
REMINDERS = "hl:{sms}:rem"  # zset: tcode -> due time
REMINDER_DATA = "hl:{sms}:rem:data"  # hash: tcode -> the booked event (JSON)
KINDS = ("booked", "cancelled", "schedule_cancelled", "refund", "no_show", "no_show_barred",
         "reminder")
DEFAULT_VALIDITY = {  # seconds after the event; appointment kinds also end with the session
    "booked": 7 * 86400, "reminder": 86400, "cancelled": 86400, "schedule_cancelled": 2 * 86400,
    "refund": 7 * 86400, "no_show": 3 * 86400, "no_show_barred": 3 * 86400,
}


def _pairs(flat: list[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


class EventConsumer:
    def __init__(self, redis: Any, sender: Any, renderer: Renderer, clock: IReactorTime, *,
                 catalog: Any, consumer: str = "sms-1", group: str = "sms",
                 stream: str = STREAM, batch: int = 200, interval: float = 0.05,
                 reminder_hour: int = 18, claim_idle: float = 60.0,
                 validity: Mapping[str, float] | None = None,
                 count: CountBooking = no_count,
                 link: Callable[[Mapping[str, str]], Awaitable[str | None]] | None = None
                 ) -> None:
        """``count(outcome, channel)``: the wiring's booking counter (a sweeper's no-show is
        counted here, once). ``link(event)``: the QR page's link for a ``booked`` event, which
        the confirmation then carries (template ``booked_link``), or None."""
        self.redis = redis
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.catalog = catalog  # the platform (or one hospital); renderer.use() follows reloads
        self.consumer, self.group, self.stream = consumer, group, stream
        self.batch, self.interval = batch, interval
        self.reminder_hour = reminder_hour
        self.claim_idle_ms = int(claim_idle * 1000)
        self.validity = {**DEFAULT_VALIDITY, **(validity or {})}
        self.count = count
        self.link = link
        self._links: dict[str, str] = {}  # tcode -> link, for the batch being handled
        self._loop: task.LoopingCall | None = None
        self._running: defer.Deferred[Any] | None = None
        self.handled = 0
        self._lock = defer.DeferredLock()  # the loop and a direct poll() never overlap

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self, *, loop: bool = True) -> None:
        """Create the group (from the stream's start) and poll every ``interval`` seconds."""
        try:
            await self.redis.execute_command("XGROUP", "CREATE", self.stream, self.group, "0",
                                             "MKSTREAM")
        except Exception as exc:  # BUSYGROUP: it exists (the normal case after the first run)
            if "BUSYGROUP" not in str(exc):
                raise
        if not loop:
            return
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.clock
        self._running = self._loop.start(self.interval, now=True)
        self._running.addErrback(lambda f: log.failure("events.loop_died", f))

    async def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._running is not None:
            await self._running

    def _tick(self) -> defer.Deferred[Any]:
        d = defer.ensureDeferred(self.poll())
        return d.addErrback(lambda f: log.error("events.poll_failed why={why}",
                                                why=f.getErrorMessage()))

    # -- one round -----------------------------------------------------------------------
    async def poll(self) -> int:
        """Own pending entries, then new ones, then claimed ones; then due reminders."""
        await self._lock.acquire()
        try:
            return await self._poll()
        finally:
            self._lock.release()

    async def _poll(self) -> int:
        n = 0
        for start in ("0", ">"):
            while True:
                got = await self._read(start)
                n += got
                if got < self.batch:
                    break
        n += await self._claim()
        n += await self.send_due_reminders()
        return n

    async def _read(self, start: str) -> int:
        reply = await self.redis.execute_command(
            "XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", self.batch,
            "STREAMS", self.stream, start)
        entries = reply[0][1] if reply else []
        await self._handle([(str(e[0]), _pairs(e[1] or [])) for e in entries])
        return len(entries)

    async def _claim(self) -> int:
        reply = await self.redis.execute_command(
            "XAUTOCLAIM", self.stream, self.group, self.consumer, self.claim_idle_ms, "0",
            "COUNT", self.batch)
        entries = [e for e in (reply[1] if reply else []) if e and e[1]]
        await self._handle([(str(e[0]), _pairs(e[1])) for e in entries])
        return len(entries)

    async def _handle(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        if not entries:
            return
        writes: list[OutgoingSms] = []
        schedule: list[tuple[float, str, str]] = []  # (due, tcode, the booked event as JSON)
        drop: list[str] = []
        await self._make_links([e for _, e in entries if e.get("type") == "booked"])
        for _, event in entries:
            if event.get("type") == "no_show":  # the sweeper's: counted once, by the consumer
                self.count("no_show", "sweep")
            try:
                writes.extend(self._effects(event, schedule, drop))
            except Exception as exc:  # a malformed event must not block the stream
                log.error("events.bad_event type={t} why={why}", t=event.get("type"), why=exc)
        # The batch's reminders in four commands at most, not two per event (each its own round
        # trip and reactor turn): bookings first, then cancellations, as the stream had them.
        await self._schedule_reminders(schedule)
        await self._drop_reminders(drop)
        # Only once every SMS of the batch is in the outbox are the entries acknowledged.
        await defer.gatherResults([defer.maybeDeferred(self.sender.send, m) for m in writes],
                                  consumeErrors=True)
        await self.redis.execute_command("XACK", self.stream, self.group,
                                         *[entry_id for entry_id, _ in entries])
        self.handled += len(entries)

    def _effects(self, event: dict[str, str], schedule: list[tuple[float, str, str]],
                 drop: list[str]) -> list[OutgoingSms]:
        """The SMS for ``event``; its reminder change is added to ``schedule`` or ``drop``.
        Everything is read from the event here, so a malformed one is refused alone."""
        kind, tcode = event.get("type", ""), event.get("tcode", "")
        if kind == "booked":
            due = self.reminder_due(dt.date.fromisoformat(event["day"]), event.get("hospital", ""))
            # booked after its reminder time: no reminder, the confirmation is fresh
            if due > self.clock.seconds():
                schedule.append((due, event["tcode"], json.dumps(event, ensure_ascii=False)))
        elif kind in ("cancelled", "schedule_cancelled", "no_show") and tcode:
            drop.append(tcode)
        if kind == "reminder_due":
            kind = "reminder"
        if (kind == "no_show" and event.get("reason", "").startswith("barred_until:")
                and self.renderer.has("no_show_barred")):
            kind = "no_show_barred"  # not the first warning: booking is now suspended
        if kind not in KINDS or not self.renderer.has(kind) or not event.get("msisdn"):
            return []
        return [self.message(kind, event)]

    async def _make_links(self, booked: list[dict[str, str]]) -> None:
        """The links of the batch's confirmations; one that cannot be made is left out (the
        SMS goes without it), never holding the SMS back."""
        self._links = {}
        if self.link is None or not self.renderer.has("booked_link"):
            return
        for event in booked:
            try:
                made = await self.link(event)
            except Exception as exc:
                log.warn("events.no_link why={why}", why=exc)
                continue
            if made:
                self._links[event.get("tcode", "")] = made

    def _text(self, kind: str, event: Mapping[str, str]) -> str:
        """The SMS text; a ``booked`` one with its link when that stays within its budget."""
        plain = self.renderer.for_event(kind, event)
        link = self._links.get(event.get("tcode", "")) if kind == "booked" else None
        if not link:
            return plain
        linked = self.renderer.for_event("booked_link", event, link=link)
        if len(encoding.split(linked, 0)) > PARTS_BUDGET["booked_link"]:
            log.warn("events.link_too_long parts={n}", n=len(encoding.split(linked, 0)))
            return plain
        return linked

    def message(self, kind: str, event: Mapping[str, str]) -> OutgoingSms:
        now = self.clock.seconds()
        base = now if kind == "reminder" else float(event.get("ts") or now)
        valid = base + self.validity.get(kind, 86400)
        bound = self._session_time(event, end=(kind != "reminder"))
        if bound is not None and kind in ("booked", "reminder", "cancelled"):
            valid = min(valid, bound)
        return OutgoingSms(event["msisdn"], self._text(kind, event),
                           f"{kind}:{event['tcode']}", kind, valid)

    def _session_time(self, event: Mapping[str, str], *, end: bool) -> float | None:
        hospital = self.renderer.hospital(event.get("hospital", ""))
        dept = hospital.department(event.get("dept", "")) if hospital is not None else None
        template = dept.session(event.get("session", "")) if dept is not None else None
        if template is None:
            return None
        day = dt.date.fromisoformat(event["day"])
        at = dt.datetime.combine(day, template.end if end else template.start,
                                 ZoneInfo(hospital.timezone))
        return at.timestamp()

    # -- reminders -----------------------------------------------------------------------
    def reminder_due(self, day: dt.date, hospital_id: str = "") -> float:
        """``reminder_hour`` on the day before the visit, in the booking hospital's time."""
        hospital = self.renderer.hospital(hospital_id)
        tz = ZoneInfo(hospital.timezone if hospital is not None else "Asia/Shanghai")
        before = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(self.reminder_hour), tz)
        return before.timestamp()

    async def _schedule_reminders(self, due: list[tuple[float, str, str]]) -> None:
        """Record the batch's reminders: their data before their due times, so a reminder that
        is due always finds its data."""
        if due:
            await self.redis.execute_command(
                "HSET", REMINDER_DATA, *[x for _, tcode, data in due for x in (tcode, data)])
            await self.redis.execute_command(
                "ZADD", REMINDERS, *[x for at, tcode, _ in due for x in (repr(at), tcode)])

    async def _drop_reminders(self, tcodes: list[str]) -> None:
        if tcodes:
            await self.redis.execute_command("ZREM", REMINDERS, *tcodes)
            await self.redis.execute_command("HDEL", REMINDER_DATA, *tcodes)

    async def send_due_reminders(self) -> int:
        """Queue reminders whose time has come; removed only after the outbox has them."""
        now = self.clock.seconds()
        due = await self.redis.execute_command("ZRANGEBYSCORE", REMINDERS, "-inf", repr(now),
                                               "LIMIT", 0, self.batch)
        if not due:
            return 0
        raw = await self.redis.execute_command("HMGET", REMINDER_DATA, *due)
        messages = [self.message("reminder", json.loads(r)) for r in raw if r]
        await defer.gatherResults([defer.maybeDeferred(self.sender.send, m) for m in messages],
                                  consumeErrors=True)
        await self.redis.execute_command("ZREM", REMINDERS, *due)
        await self.redis.execute_command("HDEL", REMINDER_DATA, *due)
        return len(due)
