"""Web booking in a real browser (Debian's chromium, headless, driven by Playwright) against the
whole product (``hotline.app.start``) on an ephemeral port, the real Redis and the loopback SMSC
simulator: choose department, day and session, prove the phone with the code read from the SMSC,
book with an ID number, get the T-code SMS, list the booking and cancel it.

The browser runs in a thread of its own (Playwright's sync API has its own event loop) while the
reactor serves; SMS reach the test through the simulator's ``on_sms``, handed over by a queue."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from sms_inbox import Sms
from twisted.internet import threads

from booking.idcard import check_char
from hotline.app import start
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PHONE, MSISDN = "13700137000", "8613700137000"


def require_browser() -> Any:
    """Playwright's sync API and Debian's chromium; skips without them, fails in CI."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing, sync_playwright = "playwright is not installed (test extra)", None
    if missing is None and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail(f"a browser is required: {missing}")
        pytest.skip(missing)
    return sync_playwright


def a_valid_id() -> str:
    first = "11010519850505123"
    return first + check_char(first)


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest_twisted.async_yield_fixture
async def product(redis_url: str, redis: Any, tmp_path: Path):
    sms = Sms()
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path)})
    running = await start(settings, reactor(), on_sms=sms.on_sms)
    yield running, sms
    await running.stop()


def walk(sync_playwright: Any, base: str, sms: Sms, id_number: str) -> dict[str, Any]:
    """The patient's visit, in the browser's thread; what the test checks afterwards."""
    seen: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
            page.goto(base + "/book/")
            seen["first"] = page.inner_text("h1")  # the demo is a platform of hospitals
            seen["hospitals"] = page.inner_text("#hospitals")
            page.click("#hospitals li:first-child a")
            seen["heading"] = page.inner_text("h1")
            page.click("#departments li:first-child a")
            page.click("#days li:first-child a")
            page.click("#sessions li:first-child a")
            page.wait_for_selector("#phone")  # not signed in: the phone first
            page.fill("#phone", PHONE)
            page.click("#send")
            code = sms.next(MSISDN, r"(?<!\d)(\d{6})(?!\d)").group(1)
            page.fill("#code", code)
            page.click("#verify")
            page.wait_for_selector("#id_number")  # back to the session chosen
            seen["confirm"] = page.inner_text("h1")
            page.fill("#id_number", id_number)
            page.click("#confirm")
            seen["tcode"] = page.inner_text("#tcode")
            seen["sms"] = sms.next(MSISDN, seen["tcode"]).string
            page.click("text=我的预约")
            seen["mine"] = page.inner_text("#bookings")
            page.on("dialog", lambda dialog: dialog.accept())
            page.click("#bookings button.danger")
            page.wait_for_selector("#none")
            seen["after_cancel"] = page.inner_text("main")
            seen["cancel_sms"] = sms.next(MSISDN, seen["tcode"]).string
            cookies = {c["name"]: c for c in page.context.cookies()}
            seen["cookie"] = cookies["hl_sess"]
            page.goto(base + "/book/?lang=en")
            seen["english"] = page.inner_text("h1")
        finally:
            browser.close()
    return seen


@pytest_twisted.ensureDeferred
async def test_book_on_the_web_with_the_sms_code_then_cancel(product) -> None:
    sync_playwright = require_browser()
    running, sms = product
    base = f"http://127.0.0.1:{running.http_port}"
    id_number = a_valid_id()
    seen = await threads.deferToThread(walk, sync_playwright, base, sms, id_number)
    assert seen["first"] == "请选择医院："
    assert "深圳市第一人民医院（演示）" in seen["hospitals"] and "南山" in seen["hospitals"]
    assert seen["heading"] == "请选择科室："  # the booking menu's own text
    assert "内科" in seen["confirm"]
    assert re.fullmatch(r"\d{10}", seen["tcode"])
    assert "预约成功" in seen["sms"]  # the same T-code SMS as every channel
    assert seen["tcode"] in seen["mine"] and id_number[-4:] in seen["mine"]
    assert id_number not in seen["mine"]
    assert f"已取消{seen['tcode']}" in seen["after_cancel"]
    assert "已取消" in seen["cancel_sms"]
    assert seen["cookie"]["httpOnly"] and seen["cookie"]["sameSite"] == "Strict"
    assert seen["english"] == "Choose a hospital:"
    stored = await running.booking._load(seen["tcode"])
    assert (stored.channel, stored.status.value, stored.msisdn) == ("web", "cancelled", MSISDN)
    assert stored.hospital_id == "sz-renmin"  # the hospital chosen first
