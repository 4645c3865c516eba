"""The console's menu desk on its own: a walk in the simulator is rebuilt by another process
from its inputs in Redis, and a process keeps no more walks than its bound."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_twisted
from twisted.internet.task import Clock

from booking.catalog import load_platform
from hotline.app import VALIDATORS
from menudesk import desk as menu_desk
from menudesk.desk import MenuDesk
from menus.definition import MenuSource

ROOT = Path(__file__).resolve().parents[2]
MENU = ROOT / "config/menus/booking.yaml"
START = dt.datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()


def desk(redis: Any, clock: Clock) -> MenuDesk:
    platform = load_platform(ROOT / "config/hospital.yaml")
    return MenuDesk(MenuSource.from_paths([MENU]), [MENU], redis=redis, clock=clock,
                    platform=lambda: platform, validators=VALIDATORS, reload=lambda: None)


def clock() -> Clock:
    c = Clock()
    c.advance(START)
    return c


@pytest_twisted.ensureDeferred
async def test_another_process_rebuilds_a_walk_from_its_inputs(redis: Any) -> None:
    time = clock()
    one, other = desk(redis, time), desk(redis, time)
    await one.sim_start("login", "main", "ussd", "running", "zh")
    view = await one.sim_input("login", "main", "1")
    assert "请选择科室" in view.screen
    rebuilt = await other.sim_view("login", "main")  # never served this login before
    assert rebuilt is not None and rebuilt.screen == view.screen
    assert rebuilt.transcript == view.transcript
    after = await other.sim_input("login", "main", "1")  # and goes on from there
    assert "请选择科室" not in after.screen and after.transcript[:-2] == view.transcript
    assert await other.sim_view("login", "elsewhere") is None  # per hospital
    await other.sim_end("login", "main")
    one.walks.clear()
    assert await one.sim_view("login", "main") is None


@pytest_twisted.ensureDeferred
async def test_a_process_keeps_at_most_its_bound_of_walks(redis: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(menu_desk, "SIM_MAX", 3)
    d = desk(redis, clock())
    for n in range(5):
        await d.sim_start(f"login-{n}", "main", "ussd", "running", "zh")
    assert [k for k, _ in d.walks] == ["login-2", "login-3", "login-4"]


@pytest_twisted.ensureDeferred
async def test_a_walk_left_alone_is_dropped_everywhere(redis: Any) -> None:
    time = clock()
    d = desk(redis, time)
    await d.sim_start("login", "main", "ivr", "running", "zh")
    time.advance(menu_desk.SIM_TTL_S)
    assert await d.sim_view("login", "main") is None
    assert await desk(redis, time).sim_view("login", "main") is None


@pytest_twisted.ensureDeferred
async def test_on_a_platform_the_sandbox_is_the_one_hospital(redis: Any) -> None:
    platform = load_platform(ROOT / "config/hospitals")
    d = MenuDesk(MenuSource.from_paths([MENU]), [MENU], redis=redis, clock=clock(),
                 platform=lambda: platform, validators=VALIDATORS, reload=lambda: None)
    await d.sim_start("login", "ft-ertong", "ussd", "running", "zh")
    view = await d.sim_input("login", "ft-ertong", "1")  # book: no hospital is asked
    assert "请选择科室" in view.screen and "小儿内科" in view.screen, view.screen
