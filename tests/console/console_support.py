"""What the console tests share: a whole server (hotline.app, real Redis, the loopback SMSC)
with the console, its time on a task.Clock, chromium driven by Playwright in a thread of its
own, an HTTP client that logs in, and booking by USSD.

The reactor runs the server in the test's thread; Playwright's sync API runs in one browser
thread (its objects belong to the thread that made them), and each browser step is handed to
that thread and awaited as a Deferred, so the server keeps serving while the browser waits.
"""

from __future__ import annotations

import datetime as dt
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import treq
from treq.client import HTTPClient
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.client import Agent

from booking.idcard import check_char
from hotline.app import Running
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


class Client:
    """A logged-in browser stand-in: its cookies and the CSRF token of its session."""

    def __init__(self, server: Server) -> None:
        self.server, self.csrf = server, ""
        self.http = HTTPClient(Agent(reactor()), cookiejar=CookieJar())

    async def login(self, name: str, password: str = PASSWORD,
                    headers: dict[str, str] | None = None) -> Any:
        form = await self.http.get(f"{self.server.url}/console/login")
        token = CSRF.search(await form.text()).group(1)
        answer = await self.http.post(
            f"{self.server.url}/console/login", allow_redirects=False,
            data={"csrf": token, "username": name, "password": password},
            headers=headers or {})
        await answer.text()
        if answer.code == 303:
            page = await self.http.get(f"{self.server.url}/console/")  # redirects followed
            self.csrf = CSRF.search(await page.text()).group(1)
        return answer

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.http.get(f"{self.server.url}{path}", params=params,
                                   allow_redirects=False)

    async def post(self, path: str, form: dict[str, str], csrf: bool = True) -> Any:
        data = {**form, **({"csrf": self.csrf} if csrf else {})}
        return await self.http.post(f"{self.server.url}{path}", data=data,
                                    allow_redirects=False)


async def client(server: Server, name: str) -> Client:
    c = Client(server)
    answer = await c.login(name)
    assert answer.code == 303, await answer.text()
    return c


async def book(server: Server, session: str, phone: str, id_seq: int, dept: int = 1) -> str:
    """Book by USSD (department ``dept``, the first day, the morning); the T-code."""
    inputs: list[str] = []
    for _ in range(12):
        reply = await server.ussd(session, phone, "*".join(inputs))
        if reply.startswith("END "):
            found = TCODE.search(reply)
            assert found, reply
            return found.group(0)
        if "科室" in reply:
            inputs.append(str(dept))
        elif "身份证号码" in reply:
            inputs.append(valid_id(id_seq).replace("X", "*"))
        else:
            inputs.append("1")
    raise AssertionError(f"no END after {inputs}")



TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
