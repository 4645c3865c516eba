"""The log observer: one masked line per event, flushed once per reactor turn with a clock."""

from __future__ import annotations

import io
import re
import time

from twisted.internet.task import Clock
from twisted.logger import LogLevel

from logs.output import MaskingObserver


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def event(text: str, at: float = 1_764_100_000.0) -> dict:
    return {"log_format": text, "log_level": LogLevel.info, "log_time": at}


def test_lines_are_masked_and_stamped_in_local_time() -> None:
    stream = CountingStream()
    MaskingObserver(stream)(event("call from 13800138000 id 11010519491231002X"))
    line = stream.getvalue()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(1_764_100_000))
    assert line == f"{stamp} [info] call from *******8000 id **************002X\n"
    assert stream.flushes == 1


def test_with_a_clock_one_flush_per_reactor_turn() -> None:
    stream, clock = CountingStream(), Clock()
    observer = MaskingObserver(stream, clock)
    for n in range(5):
        observer(event(f"hop {n}", at=1_764_100_000.0 + n / 10))
    assert stream.getvalue().count("\n") == 5
    assert stream.flushes == 0  # written, not yet flushed: the turn is not over
    clock.advance(0)
    assert stream.flushes == 1
    observer(event("next turn", at=1_764_100_001.5))
    clock.advance(0)
    assert stream.flushes == 2
    stamps = [line.split(" ")[0] for line in stream.getvalue().splitlines()]
    assert stamps[0] == stamps[4] != stamps[5]  # the cached stamp moves on with the second


class Named:
    name = "内科"

    def __str__(self) -> str:
        return "<dept>"


FORMATS = [
    ("plain text", {}),
    ("hop {hop}", {"hop": "ussd hop at node=dept"}),
    ("{a} and {b!r} {c:>5}|{d:.2f}", {"a": 1, "b": "x", "c": "r", "d": 3.14159}),
    ("{obj} {obj.name} {items[0]}", {"obj": Named(), "items": ["first"]}),
    ("{{literal braces}} {n}", {"n": 7}),
    ("missing {nothere}", {}),
    ("call {f()}", {"f": lambda: "called"}),
    ("bad {a:%Q}", {"a": 5}),
]


def test_event_text_matches_twisted_formatting() -> None:
    from twisted.logger import formatEvent

    from logs.output import event_text

    for fmt, fields in FORMATS:
        ev = {"log_format": fmt, "log_level": LogLevel.info, "log_time": 0.0, **fields}
        assert event_text(ev) == formatEvent(ev), fmt
    assert event_text({"log_time": 0.0}) == ""  # no format at all


def test_events_below_the_level_are_dropped() -> None:
    stream = CountingStream()
    observer = MaskingObserver(stream, level="warn")
    for level in (LogLevel.debug, LogLevel.info, LogLevel.warn, LogLevel.error):
        observer({"log_format": level.name, "log_level": level, "log_time": 0.0})
    observer({"log_format": "no level", "log_time": 0.0})  # not a twisted.logger event
    assert [line.split(" ", 2)[2] for line in stream.getvalue().splitlines()] == ["warn", "error"]


def test_structlog_lines_share_the_shape_masking_and_flush_of_twisted_lines() -> None:
    import structlog

    from logs.output import configure_structlog

    stream, clock = CountingStream(), Clock()
    observer = MaskingObserver(stream, clock, "info")
    configure_structlog("info", observer)
    try:
        log = structlog.get_logger("ivr")
        log.info("ivr.call_record", call="42.1", caller="13800138000",
                 failures=["13912345678"], hangup_at=None)
        log.debug("ivr.call_start")  # below the level: dropped
        observer(event("agi.hangup"))
        try:
            raise ValueError("no such prompt")
        except ValueError:
            log.exception("ivr.failed", id="11010519491231002X")
        assert stream.flushes == 0
        clock.advance(0)
        assert stream.flushes == 1  # structlog's and Twisted's lines: one flush for the turn
    finally:
        structlog.reset_defaults()
    lines = stream.getvalue().splitlines()
    texts = [line.split(" ", 1)[1] for line in lines]
    assert texts[0] == ("[info] ivr.call_record call=42.1 caller=*******8000 "
                        "failures=['*******5678'] hangup_at=None")
    assert texts[1] == "[info] agi.hangup"
    assert texts[2] == "[error] ivr.failed id=**************002X"
    assert lines[3] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: no such prompt"
    stamp = lines[0].split(" ", 1)[0]
    assert time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")  # local time to the second, as Twisted's


def test_json_lines_carry_a_stable_event_name_and_fields_masked() -> None:
    import json

    stream = CountingStream()
    observer = MaskingObserver(stream, fmt="json")
    observer({**event("booking.taken dept=nk day=2026-12-06 id={id} status=confirmed"),
              "id": "11010519491231002X", "log_namespace": "booking.store"})
    observer({**event("Starting factory {f}"), "f": "<Site>", "log_namespace": "twisted.web"})
    observer({**event("ussd.hop gateway=at msisdn=+86 138 0013 8000 ms=1.5\nmore"),
              "log_namespace": "hotline.ussd"})
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert list(first)[:3] == ["ts", "level", "event"]
    assert first["ts"] == "2025-11-25T19:46:40.000Z" and first["level"] == "info"
    assert first["event"] == "booking.taken"
    assert first["dept"] == "nk" and first["day"] == "2026-12-06"
    assert first["id"] == "**************002X" and first["status"] == "confirmed"
    assert "11010519491231002X" not in first["msg"]
    assert second["event"] == "twisted.web" and second["msg"] == "Starting factory <Site>"
    assert third["event"] == "ussd.hop" and "138 0013 8000" not in third["msg"]
    assert third["msg"].endswith("\nmore") and third["ms"] == "1.5"


def test_structlog_json_lines_share_the_keys_and_the_masking() -> None:
    import json

    import structlog

    from logs.output import configure_structlog

    stream = CountingStream()
    configure_structlog("info", MaskingObserver(stream, fmt="json"))
    try:
        structlog.get_logger("ivr").info("ivr.call_record", call="42.1", caller="13800138000",
                                         failures=["138-0013-8000"], steps=3)
    finally:
        structlog.reset_defaults()
    record = json.loads(stream.getvalue())
    assert list(record)[:3] == ["ts", "level", "event"]
    assert record["event"] == "ivr.call_record" and record["level"] == "info"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    assert record["steps"] == 3
    assert record["caller"] == "*******8000" and record["failures"] == ["***-****-8000"]


def test_an_unknown_log_format_is_refused() -> None:
    import pytest

    from logs.output import check_format

    assert check_format("json") == "json"
    with pytest.raises(ValueError, match=r"log\.format must be one of text, json"):
        check_format("xml")


def test_the_scan_of_every_test_sees_this_tests_lines(no_full_numbers_in_logs) -> None:
    from log_scan import leaked_numbers
    from twisted.logger import Logger

    Logger(namespace="tests").info("sms.sent to={to}", to="8613800138000")
    lines = no_full_numbers_in_logs.lines()
    assert len(lines) == 2 and "*********8000" in lines[0]  # text and JSON, masked
    for raw in ("to=13800138000", "+86 138 0013 8000", "id 110105-19491231-002X",
                "11010519491231002x"):
        assert leaked_numbers(raw), raw
    for safe in ("*******8000", "tcode 4381090292", "2026-12-04 10:00:00", "port 18300"):
        assert not leaked_numbers(safe), safe
