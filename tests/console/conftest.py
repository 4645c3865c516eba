"""A whole server (hotline.app, real Redis, the loopback SMSC) with the console, its time on a
task.Clock, and chromium driven by Playwright in a thread of its own.

The reactor runs the server in the test's thread; Playwright's sync API runs in one browser
thread (its objects belong to the thread that made them), and each browser step is handed to
that thread and awaited as a Deferred, so the server keeps serving while the browser waits.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
import treq
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from booking.idcard import check_char
from hotline.app import Running, start
from hotline.settings import load_settings
from web.console.accounts import Accounts

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
# Monday 2026-12-07 08:00 in Shanghai: the console's and booking's "now"
START = dt.datetime(2026, 12, 7, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
DAY1 = dt.date(2026, 12, 8)  # tomorrow: the first day remote callers may book


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


class BrowserThread:
    """Chromium in a thread of its own; ``run(fn)`` calls ``fn(browser)`` there."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[Any] = queue.Queue()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="browser", daemon=True)
        self.thread.start()
        self.ready.wait(60)
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            manager = sync_playwright().start()
            browser = manager.chromium.launch(executable_path=CHROMIUM, headless=True)
        except BaseException as exc:
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        while (job := self.jobs.get()) is not None:
            fn, d = job
            try:
                result = fn(browser)
            except BaseException:
                failure = Failure()
                reactor().callFromThread(d.errback, failure)
            else:
                reactor().callFromThread(d.callback, result)
        browser.close()
        manager.stop()

    def run(self, fn: Callable[[Any], Any]) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.jobs.put((fn, d))
        return d

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(30)


@pytest.fixture(scope="session")
def browser_thread() -> Iterator[BrowserThread]:
    b = BrowserThread()
    yield b
    b.stop()


@dataclass
class Inbox:
    """The SMS the loopback SMSC received: ``(destination, text)``, and waiters for the next."""

    messages: list[tuple[str, str]] = field(default_factory=list)
    waiters: list[Deferred[None]] = field(default_factory=list)

    def __call__(self, destination: str, _source: str, text: str) -> None:
        self.messages.append((destination, text))
        waiters, self.waiters = self.waiters, []
        for d in waiters:
            d.callback(None)

    async def until(self, check: Callable[[list[tuple[str, str]]], bool],
                    timeout: float = 10) -> None:
        while not check(self.messages):
            d: Deferred[None] = Deferred()
            self.waiters.append(d)
            d.addTimeout(timeout, reactor())
            await d


@dataclass
class Server:
    running: Running
    clock: task.Clock
    inbox: Inbox
    accounts: Accounts
    browser: BrowserThread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"

    def page(self, steps: Callable[[Any], Any]) -> Deferred[Any]:
        """Run ``steps(page)`` in a fresh browser context (no cookies) at 1280×800."""

        def job(browser: Any) -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 800},
                                          base_url=self.url, locale="zh-CN")
            context.set_default_timeout(15000)
            try:
                return steps(context.new_page())
            finally:
                context.close()

        return self.browser.run(job)

    def session(self) -> BrowserSession:
        return BrowserSession(self)

    async def ussd(self, session: str, phone: str, text: str) -> str:
        form = {"sessionId": session, "serviceCode": "*12580#", "phoneNumber": phone,
                "networkCode": "46000", "text": text}
        response = await treq.post(f"{self.url}/ussd/at", data=form)
        assert response.code == 200
        return await response.text("utf-8")


class BrowserSession:
    """A browser context kept across steps (one logged-in user), closed by ``close()``."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.context: Any = None
        self.page: Any = None

    def step(self, steps: Callable[[Any], Any]) -> Deferred[Any]:
        def job(browser: Any) -> Any:
            if self.context is None:
                self.context = browser.new_context(viewport={"width": 1280, "height": 800},
                                                   base_url=self.server.url, locale="zh-CN")
                self.context.set_default_timeout(15000)
                self.page = self.context.new_page()
            return steps(self.page)

        return self.server.browser.run(job)

    def close(self) -> Deferred[Any]:
        def job(_: Any) -> None:
            if self.context is not None:
                self.context.close()

        return self.server.browser.run(job)


def log_in(page: Any, name: str, password: str = PASSWORD) -> Any:
    page.goto("/console/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    return page


@pytest_twisted.async_yield_fixture
async def server(redis, redis_url, tmp_path, browser_thread):
    overrides: dict[str, Any] = {
        "redis": {"url": redis_url},
        "http": {"port": 0},
        "ivr": {"fastagi": {"port": 0}},
        "sms": {"smpp": None, "cmpp": None},
        "data_dir": str(tmp_path),
        "booking": {"listing_cache_s": 0.0},
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
