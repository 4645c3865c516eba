"""Fixtures of the console tests: chromium in its own thread (once per run) and a whole server
with the console and its accounts (console_support.py says how the two meet)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import pytest_twisted
from console_support import PASSWORD, ROOT, START, BrowserThread, Inbox, Server, reactor
from twisted.internet import task

from hotline.app import start
from settings.schema import load_settings
from web.console.accounts import Accounts


@pytest.fixture(scope="session")
def browser_thread() -> Iterator[BrowserThread]:
    b = BrowserThread()
    yield b
    b.stop()


@pytest_twisted.async_yield_fixture
async def server(redis, redis_url, tmp_path, browser_thread, request):
    http = getattr(request, "param", None) or {}  # http settings of one test (indirect)
    overrides: dict[str, Any] = {
        "redis": {"url": redis_url},
        "http": {"port": 0, **http},
        "ivr": {"fastagi": {"port": 0}},
        "sms": {"smpp": None, "cmpp": None},
        "data_dir": str(tmp_path),
        "booking": {"listing_cache_s": 0.0},
        # one hospital (id main) here; tests/console/test_console_platform.py runs two
        "catalog": str(ROOT / "config/hospital.yaml"),
    }
    settings = load_settings(ROOT / "config/hotline.yaml", overrides)
    clock = task.Clock()
    clock.advance(START)
    inbox = Inbox()
    running = await start(settings, reactor(), clock=clock, on_sms=inbox)
    accounts = Accounts(redis)
    await accounts.add("anna", "main", "admin", PASSWORD)
    await accounts.add("carl", "main", "clerk", PASSWORD)
    await accounts.add("vera", "main", "viewer", PASSWORD)
    await accounts.add("olga", "other", "admin", PASSWORD)  # another hospital's admin
    await accounts.add("pat", "*", "admin", PASSWORD)  # the operator's staff
    yield Server(running, clock, inbox, accounts, browser_thread)
    await running.stop()
