"""Scripted callers through the real booking menu, the real effects and booking on real Redis.

Every call must stay in step (no command aborted by a pipelined one, no 510/520), log no error,
and leave no place taken that the sweeper does not give back, wherever the caller hangs up.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
import structlog
from structlog.testing import capture_logs
from twisted.internet.task import Clock

from booking.catalog import load_catalog
from booking.idcard import check_char, is_valid_resident_id
from booking.store import RedisBookingService
from dialogue.effects import make_effect_runner
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import (
    HANGUP,
    SILENCE,
    AsteriskSimulator,
    Garbage,
    Keys,
    TypeAhead,
    place_call,
)
from ivr.states import CallRecord
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TOMORROW = dt.date(2026, 11, 26)


def resident_id(n: int) -> str:
    first17 = f"11010519800101{n:03d}"
    return first17 + check_char(first17)


ID = resident_id(7)
BOOKING = ["1", "1", "1", "1", ID.replace("X", "*"), "1"]  # welcome, dept, day, am, ID, confirm


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest.fixture
def errors(logged_errors: list[Any]) -> Iterator[Callable[[], list[Any]]]:
    """``errors()``: every error logged so far, by structlog (ivr/, menus/) or by Twisted's
    logger (booking/)."""
    failed = ("error", "critical", "exception")
    with capture_logs() as logs:
        yield lambda: logged_errors + [e for e in logs if e.get("log_level") in failed]
    structlog.reset_defaults()


def catalog(folder: Path, payment: str) -> Path:
    """The shipped catalog with ``hospital.payment`` set to ``payment``."""
    text = (ROOT / "config/hospital.yaml").read_text(encoding="utf-8")
    text, found = re.subn(r"(?m)^  payment: \S+", f"  payment: {payment}", text)
    if not found:
        text = text.replace("hospital:\n", f"hospital:\n  payment: {payment}\n", 1)
    path = folder / f"hospital-{payment}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def payment_modes() -> list[str]:
    """The payment modes this booking version accepts (pay_to_confirm came with holds)."""
    modes = ["pay_at_hospital"]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            load_catalog(catalog(Path(tmp), "pay_to_confirm"))
            modes.append("pay_to_confirm")
        except ValueError:
            pass
    return modes


@pytest_twisted.async_yield_fixture(params=payment_modes())
async def line(request, redis, tmp_path):
    clock = Clock()
    clock.advance(NOW.timestamp())
    cat = load_catalog(catalog(tmp_path, request.param))
    booking = RedisBookingService(redis, cat, clock)
    menus = MenuSource([load_menu(ROOT / "config/menus/booking.yaml")])
    dialogue = Dialogue(menus, make_effect_runner(booking), {"resident_id": is_valid_resident_id})
    records: list[CallRecord] = []
    factory = FastAGIFactory(dialogue, clock=_reactor(), on_record=records.append)
    port = listen_fastagi(_reactor(), 0, factory)
    yield booking, clock, factory, port.getHost().port, records
    await factory.when_idle()
    await port.stopListening()


async def call(line: Any, script: list[Any], **kw: Any) -> tuple[AsteriskSimulator, CallRecord]:
    _, _, factory, port, records = line
    sim = await place_call(_reactor(), port, script, callerid="13912345678", **kw)
    await factory.when_idle()
    return sim, records[-1]


def in_step(sim: AsteriskSimulator) -> None:
    """No reply fell out of step: nothing aborted, no unknown command, no usage error."""
    assert sim.events("aborted") == [], sim.format_transcript()
    assert not [r for r in sim.events("reply") if r[:3] in ("510", "520")]
    assert sim.transcript[-1] == ("closed", "")


async def swept_left(booking: RedisBookingService, clock: Clock) -> int:
    """Places left tomorrow morning after every hold deadline passed and the sweeper ran."""
    clock.advance(3600)  # past the hold deadline (hold_minutes defaults to 10)
    expire = getattr(booking, "expire_due", None)
    if expire is not None:
        await expire()
    return await booking.remote_left("nk", TOMORROW, "am")


@pytest_twisted.ensureDeferred
async def test_a_booking_call_reads_the_code_and_takes_one_place(line, errors) -> None:
    booking, _clock, *_ = line
    before = await booking.remote_left("nk", TOMORROW, "am")
    sim, record = await call(line, BOOKING)
    in_step(sim)
    tcodes = [d for d in sim.said_digits if len(d) == 10]
    assert len(tcodes) == 1 and record.result == "completed" and record.end_node == "done"
    assert record.inputs == 6 and record.timeouts == 0 and record.invalid == 0
    assert await booking.remote_left("nk", TOMORROW, "am") == before - 1
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_booking_with_paced_keys_and_barge_in(line, errors) -> None:
    """Keys arrive 200 ms apart, the first choice interrupts the welcome prompt."""
    paced = [TypeAhead("1")] + [Keys(k, after=0.6, gap=0.2) for k in BOOKING[1:]]
    sim, record = await call(line, paced)
    in_step(sim)
    assert record.result == "completed" and record.end_node == "done", sim.format_transcript()
    assert ("key", "1") in sim.transcript[:8]  # the welcome prompt was cut by the key
    assert errors() == []


@pytest.mark.parametrize("step", range(len(BOOKING) + 1))
@pytest_twisted.ensureDeferred
async def test_hang_up_at_every_step_leaves_no_place_taken(line, errors, step: int) -> None:
    booking, clock, *_ = line
    payment = getattr(getattr(booking.catalog, "policy", None), "payment", "pay_at_hospital")
    before = await booking.remote_left("nk", TOMORROW, "am")
    sim, record = await call(line, [*BOOKING[:step], HANGUP])
    in_step(sim)
    assert sim.events("hangup")[0] == "caller"
    booked = [d for d in sim.said_digits if len(d) == 10]
    if step < len(BOOKING):  # hung up before confirming: nothing booked, menu released
        assert record.result == "hangup" and record.hangup_at is not None, record.fields()
        assert booked == []
    assert "HANGUP" not in sim.commands  # nothing but dead-OK commands after the caller left
    left = await swept_left(booking, clock)
    if step < len(BOOKING) or payment == "pay_to_confirm":
        assert left == before  # an unpaid hold is released by the sweeper
    else:  # the booking went through before the caller hung up on the read-back
        assert left == before - 1
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_three_timeouts_end_the_call_politely(line, errors) -> None:
    sim, record = await call(line, [SILENCE, SILENCE, SILENCE, SILENCE])
    in_step(sim)
    assert record.timeouts == 3 and record.result == "completed"
    assert sim.commands[-1] == "HANGUP" and len(sim.events("timeout")) == 3
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_three_wrong_keys_end_the_call(line, errors) -> None:
    sim, record = await call(line, ["5", "4", "5", "1"])
    in_step(sim)
    assert record.invalid == 2 and record.inputs == 3 and record.result == "completed"
    assert record.path == ["welcome"], record.fields()  # "1" never got a chance
    assert sim.commands[-1] == "HANGUP" and not [d for d in sim.said_digits if len(d) == 10]
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_wrong_id_three_times_then_goodbye_releases_nothing(line, errors) -> None:
    booking, clock, *_ = line
    before = await booking.remote_left("nk", TOMORROW, "am")
    bad = "110105198001010000"
    sim, record = await call(line, ["1", "1", "1", "1", bad, bad, bad])
    in_step(sim)
    assert record.invalid >= 2 and record.result == "completed"
    assert await swept_left(booking, clock) == before
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_missing_prompt_mid_booking_costs_one_sentence(line, errors) -> None:
    line[2].batch_prompts = False  # one command per prompt: the server sees each -1
    sim, record = await call(line, BOOKING, missing_files={"pick_dept"})
    in_step(sim)
    assert record.result == "completed" and record.end_node == "done"
    assert record.failures == ["missing pick_dept"]
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_missing_prompt_in_a_batched_question_is_skipped(line, errors) -> None:
    sim, record = await call(line, BOOKING, missing_files={"pick_dept"})
    in_step(sim)
    assert any(c.startswith("EXEC Read HOTLINE_KEYS,pick_dept&") for c in sim.commands)
    assert record.result == "completed" and record.end_node == "done"
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_broken_media_ends_the_call_as_media_failure(line, errors) -> None:
    line[2].batch_prompts = False  # Read skips unplayable files; STREAM FILE reports them
    sim, record = await call(line, [], broken_media=True)
    in_step(sim)
    assert record.result == "media_failure" and sim.events("hangup") == []
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_book_then_cancel_by_phone(line, errors) -> None:
    booking, *_ = line
    sim, _ = await call(line, BOOKING)
    (tcode,) = [d for d in sim.said_digits if len(d) == 10]
    assert [b.tcode for b in await booking.bookings_for("8613912345678")] == [tcode]
    # my bookings → the first one (read back digit by digit) → cancel → yes
    sim, record = await call(line, ["2", "1", "1", "1"])
    in_step(sim)
    assert tcode in sim.said_digits
    assert record.result == "completed" and record.end_node == "cancelled", record.fields()
    assert await booking.bookings_for("8613912345678") == []
    assert errors() == []


@pytest_twisted.ensureDeferred
async def test_garbage_mid_booking_closes_the_call_and_releases(line, errors) -> None:
    booking, clock, *_ = line
    before = await booking.remote_left("nk", TOMORROW, "am")
    sim, record = await call(line, ["1", "1", Garbage("200 result=0 trailing junk"), "1"])
    assert ("garbage", "200 result=0 trailing junk") in sim.transcript
    assert sim.transcript[-1] == ("closed", "") and sim.events("aborted") == []
    assert record.result == "error" and record.failures == ["protocol error"]
    assert await swept_left(booking, clock) == before
    assert errors() == []  # a warning (agi.garbage), never an error
