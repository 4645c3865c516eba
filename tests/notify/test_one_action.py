"""One action, one SMS, in the patient's language: MO commands sent by the SMSC simulator over
TCP, answered through the durable outbox and the ``hl:events`` consumer as a node wires them,
and every SMS that reaches the SMSC counted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest_twisted
from sms_support import sender_for
from twisted.internet import defer, reactor, task

from booking.api import BookingRequest
from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.rules import day_label
from booking.store import RedisBookingService
from notify.events import EventConsumer
from notify.mo import MoCommands
from notify.templates import Renderer, load_templates
from sms import encoding
from sms.redis_outbox import RedisOutbox
from sms.smsc import start_smsc

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
RENDERER = Renderer(load_templates(ROOT / "config/sms.yaml"), CATALOG, day_label)
PHONE = "8613800138000"


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


async def _until(done: Any, what: str, limit_s: float = 20.0) -> None:
    """Wait (polling real I/O, not time) until ``done()`` is true; fail after ``limit_s``."""
    for _ in range(int(limit_s / 0.02)):
        if await defer.maybeDeferred(done):
            return
        await task.deferLater(reactor, 0.02, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


@pytest_twisted.ensureDeferred
async def test_an_sms_cancel_brings_one_sms_and_refusals_speak_the_patients_language(
        redis) -> None:
    clock = task.Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, 0, tzinfo=CATALOG.tz).timestamp())
    service = RedisBookingService(redis, CATALOG, clock=clock)
    received: list[tuple[str, str]] = []
    listener = start_smsc(reactor, 0, on_message=lambda to, src, text: received.append((to, text)))
    outbox = RedisOutbox(redis, clock, scheduler=reactor, owner="node-a")
    sender = sender_for(listener.getHost().port, outbox=outbox)
    events = EventConsumer(redis, sender, RENDERER, clock, catalog=CATALOG)
    await events.start(loop=False)
    mo = MoCommands(service, sender, RENDERER, clock, notice=events.message)
    answers: list[defer.Deferred[str]] = []
    sender.on_message = lambda to, src, text: answers.append(mo.handle(to, src, text))
    smsc = listener.factory

    async def settled() -> bool:
        counts = await outbox.counts()
        return counts["queued"] == counts["sending"] == 0 and sender.pump.active == 0

    async def text_in(command: str, source: str = PHONE) -> list[str]:
        """The SMS that reach ``source`` after it texts ``command`` (events handled too)."""
        before, asked = len(received), len(answers)
        smsc.deliver("12580", source, command)
        await _until(lambda: len(answers) > asked, "the command's answer")
        await answers[-1]
        await events.poll()  # the booking event the command caused, if any
        await _until(settled, "the outbox to settle")
        return [text for to, text in received[before:] if to == source]

    try:
        await _until(lambda: sender.bound, "the bind")
        booking = await service.book(BookingRequest("ebhk", dt.date(2026, 11, 27), "pm",
                                                    valid_id(1), PHONE, "ussd"))
        await events.poll()
        await _until(lambda: len(received) == 1, "the booking's SMS")
        assert booking.tcode in received[0][1]

        (answer,) = await text_in(f"取消{booking.tcode}")  # one SMS, not a reply and a notice
        assert answer.startswith("【") and "已取消" in answer and booking.tcode in answer
        assert "耳鼻喉科" in answer  # the notice itself, with what was cancelled
        assert (await service._load(booking.tcode)).status.value == "cancelled"

        assert await text_in(f"QX {booking.tcode}") == []  # the same cancel again: nothing new

        (refused,) = await text_in("取消0000000000")
        assert refused.startswith("【") and "未找到该预约" in refused
        assert not [c for c in refused if c.isascii() and c.isalpha()]  # no English reason
        assert len(encoding.split(refused, 1)) == 1

        (refused_en,) = await text_in("CANCEL 0000000000")
        assert "No booking matches this code" in refused_en

        (stranger,) = await text_in(f"取消{booking.tcode}", source="8613900139000")
        assert "未找到该预约" in stranger  # a stranger learns nothing about the booking

        # the other order: the event's notice is written before the command's answer
        second = await service.book(BookingRequest("nk", dt.date(2026, 11, 28), "am",
                                                   valid_id(2), PHONE, "ussd"))
        await events.poll()
        await _until(settled, "the second booking's SMS")

        class EventFirst:
            def __getattr__(self, name: str) -> Any:
                return getattr(service, name)

            async def cancel(self, *args: Any, **kwargs: Any) -> Any:
                cancelled = await service.cancel(*args, **kwargs)
                assert await events.poll() == 1  # the notice is in the outbox already
                return cancelled

        mo.booking = EventFirst()
        (notice,) = await text_in(f"取消{second.tcode}")
        assert "已取消" in notice and second.tcode in notice
    finally:
        await sender.stopService()
        await listener.stopListening()
