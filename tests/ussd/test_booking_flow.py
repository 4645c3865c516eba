"""Whole USSD bookings over real HTTP: real menu file, real engine, real Redis booking store."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_twisted
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.task import Clock
from ussd_harness import Server, start_server

from booking.catalog import parse_catalog
from booking.idcard import check_char, is_valid_resident_id
from booking.store import RedisBookingService
from dialogue.effects import make_effect_runner
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue

MENU = Path(__file__).resolve().parents[2] / "config" / "menus" / "booking.yaml"
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TOMORROW = dt.date(2026, 11, 26)
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")

# One department; a morning and an afternoon session of 50 places each, all bookable remotely.
CATALOG = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
  remote_share: 1.0
sessions:
  am: {label: {zh: 上午, en: morning}, places: 50}
  pm: {label: {zh: 下午, en: afternoon}, places: 50}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
"""


def resident_id(n: int) -> str:
    first17 = f"11010519491231{n:03d}"
    return first17 + check_char(first17)


def keyed(id_number: str) -> str:
    """What a handset sends for an ID: an X is keyed as '*'."""
    return id_number.replace("X", "*")


async def booking_server(redis) -> tuple[Server, RedisBookingService]:
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = RedisBookingService(redis, parse_catalog(CATALOG, "test.yaml"), clock)
    dialogue = Dialogue(
        MenuSource([load_menu(MENU)]),
        make_effect_runner(booking),
        {"resident_id": is_valid_resident_id},
    )
    return await start_server(dialogue, redis), booking


async def step_all(server: Server, calls: list[tuple[str, str, str]]) -> list[tuple[int, str]]:
    """POST one hop for each (sessionId, phone, text), all at once."""
    return await gatherResults([
        Deferred.fromCoroutine(server.post(sessionId=sid, phoneNumber=phone, text=text))
        for sid, phone, text in calls
    ])


@pytest_twisted.ensureDeferred
async def test_a_scripted_booking_ends_with_a_tcode(redis) -> None:
    server, booking = await booking_server(redis)
    id_number = "11010519491231002X"
    assert is_valid_resident_id(id_number)
    script = [  # (the input this hop adds, what the screen must show)
        (None, "CON 欢迎使用12580预约挂号"),
        ("1", "CON 请选择科室"),
        ("1", "CON 请选择日期"),
        ("1", "CON 11月26日"),
        ("1", "CON 请输入18位身份证号码"),
        (keyed(id_number), "CON 请确认：内科"),
        ("1", "END 预约成功"),
    ]
    try:
        text, body, screens = "", "", []
        for value, expected in script:
            if value is not None:
                text = f"{text}*{value}" if text else value
            code, body = await server.post(sessionId="flow1", text=text)
            assert code == 200 and body.startswith(expected), (text, body)
            screens.append(body)
        assert "尾号002X" in screens[-2]  # the X keyed as '*' reached the engine as an X
        assert len(TCODE.findall(body)) == 1
        assert await booking.remote_left("nk", TOMORROW, "am") == 49
        # a retried final hop returns the same code and books nothing more
        assert await server.post(sessionId="flow1", text=text) == (200, body)
        assert await booking.remote_left("nk", TOMORROW, "am") == 49
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_200_concurrent_sessions_for_50_places_book_exactly_50(redis) -> None:
    server, booking = await booking_server(redis)
    try:
        n = 200
        people = [(f"c{i}", f"+86138{i:08d}", resident_id(i)) for i in range(n)]
        texts = {sid: "" for sid, _, _ in people}
        answers = ["1", "1", "1", "1", None, "1"]  # welcome, dept, day, session, ID, confirm
        replies = await step_all(server, [(sid, ph, "") for sid, ph, _ in people])
        assert all(r[0] == 200 and r[1].startswith("CON ") for r in replies)
        for answer in answers:
            calls = []
            for sid, phone, idn in people:
                value = answer if answer is not None else keyed(idn)
                texts[sid] = f"{texts[sid]}*{value}" if texts[sid] else value
                calls.append((sid, phone, texts[sid]))
            replies = await step_all(server, calls)
            assert all(code == 200 for code, _ in replies)
        booked = [b for _, b in replies if b.startswith("END 预约成功")]
        full = [b for _, b in replies if "约满" in b]
        assert len(booked) == 50
        assert len(full) == n - 50
        # the menu says the morning is full and offers the afternoon instead
        offers_afternoon = [b.startswith("CON ") and "1.下午" in b and "上午" not in b
                            for b in full]
        assert all(offers_afternoon), full[0]
        assert len({TCODE.findall(b)[0] for b in booked}) == 50
        assert await booking.remote_left("nk", TOMORROW, "am") == 0
    finally:
        await server.port.stopListening()
