"""Choosing the hospital over USSD: the shipped menu behind the real AT gateway over HTTP, the
booking twin over a small platform; each booking must land in the hospital the caller chose."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from hospital_choice_support import ID_NUMBER, NOW, SHIPPED, THREE, dialogue, many, twin
from hospital_choice_support import write_platform as platform_in
from twisted.internet.task import Clock
from ussd_harness import MSISDN, start_server

from booking.catalog import load_platform
from ussd.inputs import dialed_entry


class Caller:
    """One phone dialling the line: each ``dial`` a new USSD session, keys sent the AT way
    (the cumulative ``text``), every screen kept."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.sessions = 0
        self.screens: list[str] = []

    async def dial(self, keys: list[str], service: str = "*12580#") -> list[str]:
        self.sessions += 1
        sid, text, screens = f"s{self.sessions}", "", []
        for key in [None, *keys]:
            if key is not None:
                text = f"{text}*{key}" if text else key
            code, body = await self.server.post(sessionId=sid, serviceCode=service, text=text)
            assert code == 200, body
            screens.append(body)
        self.screens += screens
        return screens


async def _line(tmp_path: Any, redis: Any, hospitals: Any) -> tuple[Any, Any, Caller]:
    clock = Clock()
    clock.advance(NOW.timestamp())
    platform = (platform_in(tmp_path / "hospitals", hospitals) if hospitals is not None
                else load_platform(SHIPPED))
    booking = twin(platform, clock)
    await booking.register(MSISDN, ID_NUMBER)  # a registered phone: choosing a session books
    server = await start_server(dialogue(booking), redis)
    return booking, server, Caller(server)


async def _only_booking(booking: Any) -> Any:
    found = await booking.bookings_for(MSISDN)
    assert len(found) == 1, found
    return found[0]


@pytest_twisted.ensureDeferred
async def test_the_service_code_chooses_the_hospital(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, THREE)
    try:
        screens = await caller.dial(["1", "1", "1", "1"], service="*12580*12#")
        assert screens[0].startswith("CON 市二医院（演示）\n欢迎使用12580预约挂号。")
        assert screens[1].startswith("CON 请选择科室")  # no hospital question
        assert screens[-1].startswith("END 预约成功")
        assert (await _only_booking(booking)).hospital_id == "h2"
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_an_unknown_service_code_says_so_then_asks(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, THREE)
    try:
        screens = await caller.dial(["1", "3", "1", "1", "1"], service="*12580*99#")
        assert screens[0].startswith("CON 没有代码为99的医院。\n欢迎使用12580预约挂号。")
        assert screens[1].startswith("CON 请选择医院，或按*加医院代码：\n1.市一医院\n2.市二医院")
        assert screens[-1].startswith("END 预约成功")
        assert (await _only_booking(booking)).hospital_id == "h3"
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_long_list_goes_by_district_and_pages(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, many(11))  # 9 in 福田区
    try:
        screens = await caller.dial(["1", "1", "98", "98", "10", "1", "1", "1"])
        assert screens[1].startswith("CON 请选择区县，或按*加医院代码：\n1.福田区\n2.南山区")
        first, last = screens[2], screens[4]
        assert "1.福田区第一人民医院" in first and first.endswith("98.更多")
        assert "10.福田区第九人民医院" in last and "00.返回" in last  # 9 repeats: item 9 is 10
        assert all(len(s) - 4 <= 70 for s in screens)  # every page fits a Chinese screen
        assert screens[-1].startswith("END 预约成功")
        assert (await _only_booking(booking)).hospital_id == "f8"
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_code_keyed_at_the_list_chooses_the_hospital(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, THREE)
    try:
        screens = await caller.dial(["1", "*77", "*13", "1", "1", "1"])
        assert screens[2].startswith("CON 没有代码为77的医院。\n请选择医院")
        assert screens[3].startswith("CON 请选择科室")
        assert screens[-1].startswith("END 预约成功")
        assert len(screens) == 7  # welcome, list, the wrong code, depts, date, session, done
        assert (await _only_booking(booking)).hospital_id == "h3"
        # a code that is no option number works without the star; 1 is still the first option
        booking.clock.advance(60)  # now a returning caller: 2 is "another hospital"
        await caller.dial(["2", "12", "2", "1", "1"])
        await caller.dial(["4"])  # my bookings, after his two recent hospitals and "another"
        mine = caller.screens[-1]
        assert "市二医院 外科" in mine and "中医院 内科" in mine, mine
        assert sorted(b.hospital_id for b in await booking.bookings_for(MSISDN)) == ["h2", "h3"]
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_returning_caller_is_offered_his_recent_hospitals(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, THREE)
    try:
        await caller.dial(["1", "3", "1", "1", "1"])  # books at 中医院 (h3)
        screens = await caller.dial(["1", "2", "2", "1"])
        assert screens[0] == ("CON 欢迎使用12580预约挂号。选择医院即预约：\n1.中医院\n2.其他医院\n"
                              "3.我的预约\n4.实名登记\n0.人工服务")
        assert screens[1].startswith("CON 请选择科室")
        assert screens[-1].startswith("END 预约成功") and len(screens) == 5
        landed = [b.hospital_id for b in await booking.bookings_for(MSISDN)]
        assert landed == ["h3", "h3"]
        booking.clock.advance(60)
        screens = await caller.dial(["2", "1", "1", "3", "1"])  # another hospital, from the list
        assert screens[2].startswith("CON 请选择科室") and screens[-1].startswith("END 预约成功")
        screens = await caller.dial([])
        assert "1.市一医院\n2.中医院\n3.其他医院\n4.我的预约\n5.实名登记" in screens[0]
    finally:
        await server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_platform_of_one_hospital_asks_nothing(tmp_path, redis) -> None:
    booking, server, caller = await _line(tmp_path, redis, None)
    try:
        screens = await caller.dial(["1", "1", "1", "1"], service="*12580*7#")
        assert screens[0].startswith("CON 欢迎使用12580预约挂号。\n1.预约挂号")
        assert screens[1].startswith("CON 请选择科室")
        assert screens[-1].startswith("END 预约成功") and len(screens) == 5
        assert (await _only_booking(booking)).hospital_id == "main"
        again = await caller.dial([])  # booked before, yet nothing to choose between
        assert again[0].startswith("CON 欢迎使用12580预约挂号。\n1.预约挂号")
    finally:
        await server.port.stopListening()


def test_the_dial_string_names_the_hospital_after_the_line_s_code() -> None:
    assert dialed_entry("*12580*12#") == "12"
    assert dialed_entry("*125*h2#") == "h2"  # any base code; an id works as well as a code
    assert dialed_entry("*12580#") == "" and dialed_entry("") == "" and dialed_entry("125") == ""
    assert dialed_entry("*12580*12*3#") == "12"  # more after it is not the hospital
    assert dialed_entry("*12580**#") == ""
    assert dialed_entry("*12580*1234567890123456789#") == ""  # no keypad code is that long
    assert dialed_entry("*12580*医院#") == ""


async def _platform_dialogue(tmp_path: Any) -> tuple[Any, Any]:
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = twin(platform_in(tmp_path / "hospitals", THREE), clock)
    await booking.register(MSISDN, ID_NUMBER)
    return booking, dialogue(booking)


@pytest_twisted.ensureDeferred
async def test_the_hubtel_initiation_s_dial_string_chooses_the_hospital(tmp_path, redis) -> None:
    from test_hubtel_http import start as start_hubtel

    booking, chosen = await _platform_dialogue(tmp_path)
    hub = await start_hubtel(redis, chosen)
    try:
        _, first = await hub.post(Type="Initiation", Message="*12580*13#", Sequence=1)
        assert first["Message"].startswith("中医院（演示）\n欢迎使用12580预约挂号。")
        for seq, key in enumerate(["1", "1", "1", "1"], start=2):
            _, last = await hub.post(Message=key, Sequence=seq)
        assert last["Type"] == "release" and last["Message"].startswith("预约成功")
        assert (await _only_booking(booking)).hospital_id == "h3"
    finally:
        await hub.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_the_smpp_pssr_dial_string_chooses_the_hospital(tmp_path, redis) -> None:
    from test_smpp_ussd import rig, stop

    booking, chosen = await _platform_dialogue(tmp_path)
    r = await rig(redis, chosen)
    try:
        r.mo(1, "*125*11#", info="2a00")
        first = await r.screen()
        assert first["text"].startswith("市一医院（演示）\n欢迎使用12580预约挂号。")
        for seq, key in enumerate(["1", "1", "1", "1"], start=1):
            r.mo(18, key, info=f"2a{seq * 2:02x}")
            last = await r.screen()
        assert last["text"].startswith("预约成功") and last["ussd_service_op"] == 17
        assert (await _only_booking(booking)).hospital_id == "h1"
    finally:
        await stop(r)
