"""notify.events: the hl:events stream -> durable SMS outbox, acknowledged only after the write.

Real Redis; events are XADDed exactly as booking's Lua does, and one test books through the
real booking service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer
from twisted.internet.task import Clock

from booking.api import BookingRequest
from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.rules import day_label
from booking.store import RedisBookingService
from notify.events import REMINDERS, EventConsumer
from notify.templates import Renderer, load_templates
from sms.api import OutgoingSms

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
TEMPLATES = load_templates(ROOT / "config/sms.yaml")
TZ = CATALOG.tz
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=TZ).timestamp()


class Outbox:
    """A Sender whose writes can be made to fail (the outbox is down)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.broken = False

    def send(self, message: OutgoingSms) -> defer.Deferred[bool]:
        if self.broken:
            return defer.fail(ConnectionError("outbox down"))
        self.sent.append(message)
        return defer.succeed(True)


def consumer(redis: Any, sender: Outbox, clock: Clock, name: str = "sms-1",
             **options: Any) -> EventConsumer:
    return EventConsumer(redis, sender, Renderer(TEMPLATES, CATALOG, day_label), clock,
                         catalog=CATALOG, consumer=name, **options)


async def xadd(redis: Any, kind: str, tcode: str = "1234567890", day: str = "2026-11-27",
               lang: str = "zh", reason: str = "") -> None:
    await redis.execute_command(
        "XADD", "hl:events", "*", "type", kind, "tcode", tcode, "msisdn", "8613800138000",
        "dept", "nk", "day", day, "session", "am", "lang", lang, "reason", reason,
        "ts", str(int(NOW)))


async def pending(redis: Any) -> int:
    return int((await redis.execute_command("XPENDING", "hl:events", "sms"))[0])


def clock_at(t: float = NOW) -> Clock:
    c = Clock()
    c.advance(t)
    return c


@pytest_twisted.ensureDeferred
async def test_booked_event_becomes_the_tcode_sms_and_is_acked(redis) -> None:
    box, clock = Outbox(), clock_at()
    events = consumer(redis, box, clock)
    await events.start(loop=False)
    await xadd(redis, "booked")
    assert await events.poll() == 1
    (sms,) = box.sent
    assert sms.key == "booked:1234567890" and sms.kind == "booked"
    assert "1234567890" in sms.text and "内科" in sms.text and "11月27日" in sms.text
    session_end = dt.datetime(2026, 11, 27, 12, 0, tzinfo=TZ).timestamp()
    assert sms.valid_until == session_end
    assert await pending(redis) == 0
    assert await redis.execute_command("ZSCORE", REMINDERS, "1234567890") is not None
    await events.stop()


@pytest_twisted.ensureDeferred
async def test_unacked_events_are_read_again_after_a_restart(redis) -> None:
    box, clock = Outbox(), clock_at()
    first = consumer(redis, box, clock)
    await first.start(loop=False)
    box.broken = True  # the outbox write fails: nothing may be acknowledged
    await xadd(redis, "booked", "1111111111")
    await xadd(redis, "cancelled", "2222222222", reason="patient")
    with pytest.raises(defer.FirstError):
        await first.poll()
    await first.stop()
    assert box.sent == [] and await pending(redis) == 2
    box.broken = False
    second = consumer(redis, box, clock)  # same consumer name: its pending list is its own
    await second.start(loop=False)
    await second.poll()
    assert [m.key for m in box.sent] == ["booked:1111111111", "cancelled:2222222222"]
    assert await pending(redis) == 0
    await second.stop()


@pytest_twisted.ensureDeferred
async def test_entries_of_a_dead_consumer_are_claimed(redis) -> None:
    box, clock = Outbox(), clock_at()
    dead = consumer(redis, box, clock, name="sms-old")
    await dead.start(loop=False)
    await xadd(redis, "refund", "3333333333", reason="schedule_cancelled:nk:am")
    await redis.execute_command("XREADGROUP", "GROUP", "sms", "sms-old", "COUNT", 10,
                                "STREAMS", "hl:events", ">")  # read, then the process died
    await dead.stop()
    fresh = consumer(redis, box, clock, name="sms-new")
    fresh.claim_idle_ms = 0
    await fresh.start(loop=False)
    await fresh.poll()
    assert [m.key for m in box.sent] == ["refund:3333333333"] and await pending(redis) == 0
    await fresh.stop()


@pytest_twisted.ensureDeferred
async def test_each_event_type_has_its_text_in_the_patients_language(redis) -> None:
    box, clock = Outbox(), clock_at()
    events = consumer(redis, box, clock)
    await events.start(loop=False)
    await xadd(redis, "booked", "1000000001")
    await xadd(redis, "cancelled", "1000000001", reason="patient")
    await xadd(redis, "schedule_cancelled", "1000000002", lang="en", reason="doctor_ill")
    await xadd(redis, "no_show", "1000000003")
    barred_until = dt.datetime(2027, 2, 23, 10, 0, tzinfo=TZ).timestamp()
    await xadd(redis, "no_show", "1000000005", reason=f"barred_until:{barred_until:.0f}")
    await xadd(redis, "mystery", "1000000004")
    await events.poll()
    texts = {m.kind: m.text for m in box.sent}
    assert set(texts) == {"booked", "cancelled", "schedule_cancelled", "no_show",
                          "no_show_barred"}
    assert "暂停至2月23日" in texts["no_show_barred"]  # not the first no-show: suspended
    assert "已取消" in texts["cancelled"] and "Clinic closed" in texts["schedule_cancelled"]
    assert "爽约" in texts["no_show"]
    assert await redis.execute_command("ZCARD", REMINDERS) == 0  # cancelled: no reminder
    assert await pending(redis) == 0  # the unknown type is acknowledged too, not stuck
    await events.stop()


@pytest_twisted.ensureDeferred
async def test_a_no_show_is_counted_once_however_often_it_is_read(redis) -> None:
    """The sweeper's no-shows are counted here (the consumer reads each event once to the ack)."""
    counted: list[tuple[str, str]] = []
    box = Outbox()
    events = consumer(redis, box, clock_at(), count=lambda *c: counted.append(c))
    await events.start(loop=False)
    await xadd(redis, "no_show", "1000000003")
    await xadd(redis, "booked", "1000000001")
    await events.poll()
    await events.poll()
    assert counted == [("no_show", "sweep")]


@pytest_twisted.ensureDeferred
async def test_reminder_is_sent_the_day_before_at_the_set_hour_from_redis(redis) -> None:
    box, clock = Outbox(), clock_at()
    await consumer(redis, box, clock).start(loop=False)
    await xadd(redis, "booked", "5555555555")
    await consumer(redis, box, clock).poll()
    due = dt.datetime(2026, 11, 26, 18, 0, tzinfo=TZ).timestamp()
    clock.advance(due - 1 - clock.seconds())
    restarted = consumer(redis, Outbox(), clock)  # the timer is data: a restart keeps it
    assert await restarted.poll() == 0
    clock.advance(1)
    assert await restarted.poll() == 1
    (reminder,) = restarted.sender.sent
    assert reminder.key == "reminder:5555555555" and "明天" in reminder.text
    assert reminder.valid_until == dt.datetime(2026, 11, 27, 8, 0, tzinfo=TZ).timestamp()
    assert await redis.execute_command("ZCARD", REMINDERS) == 0


@pytest_twisted.ensureDeferred
async def test_the_loop_polls_on_its_clock(redis) -> None:
    box, clock = Outbox(), clock_at()
    events = consumer(redis, box, clock)
    await xadd(redis, "booked", "6666666666")
    await events.start()  # first round at once
    await events.stop()
    assert [m.key for m in box.sent] == ["booked:6666666666"]


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


@pytest_twisted.ensureDeferred
async def test_a_real_booking_reaches_the_outbox_through_the_stream(redis) -> None:
    box, clock = Outbox(), clock_at()
    service = RedisBookingService(redis, CATALOG, clock=clock)
    events = consumer(redis, box, clock)
    await events.start(loop=False)
    booking = await service.book(BookingRequest("nk", dt.date(2026, 11, 27), "am", valid_id(1),
                                                "8613800138000", "ussd"))
    await events.poll()
    assert [m.key for m in box.sent] == [f"booked:{booking.tcode}"]
    assert booking.tcode in box.sent[0].text
    await events.stop()


def test_bad_templates_are_refused(tmp_path: Path) -> None:
    from notify.templates import TemplateError

    bad = tmp_path / "sms.yaml"
    bad.write_text("booked: {zh: '{tcode}'}\nreminder: {zh: '{nope}'}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"reminder\.zh: unknown field"):
        load_templates(bad)


@pytest_twisted.ensureDeferred
async def test_a_batch_records_each_reminder_once_and_drops_the_cancelled_ones(redis) -> None:
    box, clock = Outbox(), clock_at()
    events = consumer(redis, box, clock)
    await events.start(loop=False)
    for tcode in ("1000000001", "1000000002", "1000000003"):
        await xadd(redis, "booked", tcode)
    await xadd(redis, "booked", "1000000004", day="2026-11-25")  # today: its reminder time passed
    await xadd(redis, "booked", "1000000005", day="27/11/2026")  # malformed: skipped, logged
    await xadd(redis, "cancelled", "1000000002")
    await redis.execute_command("XADD", "hl:events", "*", "type", "booked", "day", "2026-11-27",
                                "msisdn", "8613800138000")  # no tcode: skipped, logged
    await redis.execute_command("CONFIG", "RESETSTAT")
    assert await events.poll() == 7
    stats = await redis.execute_command("INFO", "commandstats")
    calls = {line.split(":")[0][len("cmdstat_"):]: int(line.split("calls=")[1].split(",")[0])
             for line in stats.splitlines() if line.startswith("cmdstat_")}
    # one command per kind for the whole batch, not one per event
    assert (calls["hset"], calls["zadd"], calls["zrem"], calls["hdel"]) == (1, 1, 1, 1)
    remembered = await redis.execute_command("ZRANGE", REMINDERS, 0, -1)
    assert sorted(remembered) == ["1000000001", "1000000003"]
    data = await redis.execute_command("HKEYS", "hl:{sms}:rem:data")
    assert sorted(data) == ["1000000001", "1000000003"]
    assert sorted(m.key for m in box.sent) == [
        "booked:1000000001", "booked:1000000002", "booked:1000000003", "booked:1000000004",
        "cancelled:1000000002"]
    assert await pending(redis) == 0


@pytest_twisted.ensureDeferred
async def test_the_confirmation_carries_the_qr_link_within_its_budget(redis) -> None:
    asked: list[str] = []

    async def link(event: Any) -> str | None:
        asked.append(event["tcode"])
        if event["tcode"] == "4444444444":
            raise ConnectionError("redis down")
        return {"1111111111": "https://yy.example.cn/t/AbCdEfGhIjKlMnOpQrStUv",
                "2222222222": "https://yy.example.cn/" + "x" * 200}.get(event["tcode"])

    box = Outbox()
    events = consumer(redis, box, clock_at(), link=link)
    await events.start(loop=False)
    for code in ("1111111111", "2222222222", "3333333333", "4444444444"):
        await xadd(redis, "booked", tcode=code)
    await xadd(redis, "cancelled", tcode="1111111111")
    assert await events.poll() == 5
    assert asked == ["1111111111", "2222222222", "3333333333", "4444444444"]  # booked only
    texts = {m.key: m.text for m in box.sent}
    assert texts["booked:1111111111"].endswith("二维码：https://yy.example.cn/t/AbCdEfGhIjKlMnOpQrStUv")
    for code in ("2222222222", "3333333333", "4444444444"):  # too long, none, failed: no link
        assert "http" not in texts[f"booked:{code}"] and code in texts[f"booked:{code}"]
    assert "http" not in texts["cancelled:1111111111"]
    assert await pending(redis) == 0
