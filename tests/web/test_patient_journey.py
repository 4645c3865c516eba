"""Issue 20's "done when", in a real browser (Debian's chromium, Playwright) against the whole
product as ``hotline demo`` runs it (``hotline.app.start`` on the demo platform of six
hospitals, the real Redis, the loopback SMSC simulator, no ``web.public_url``):

a patient books on the web at the hospital they choose, proving the phone with the code read
from the SMSC; the confirmation SMS carries the link to the QR page; the page's QR decodes back
to the T-code; on the visit day (the server's clock moved, ``ShiftedClock``) the patient types
the code and Enter at the kiosk screen, checks in, and the printed slip holds the queue number
and a QR that decodes to the T-code.

The browser runs in a thread of its own (Playwright's sync API) while the reactor serves; SMS
reach it through a queue, and it moves the server's clock through the reactor's thread.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest_twisted
from kiosk_browser import CHROMIUM, decode_qr, need_chromium, need_font
from sms_inbox import Sms
from twisted.internet import defer, threads

from booking.idcard import check_char
from hotline.app import start
from hotline.run import link_to_self
from pii import mask_tail
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
PHONE, MSISDN = "13600136000", "8613600136000"
KIOSK, SECRET = "lobby-1", "journey-kiosk-secret"
PRINTS = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


class ShiftedClock:
    """The reactor's time plus an offset: booking's notion of now, moved to the visit day."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.offset = 0.0

    def seconds(self) -> float:
        return self.reactor.seconds() + self.offset


@pytest_twisted.async_yield_fixture
async def product(redis_url: str, redis: Any, tmp_path: Path):
    settings = load_settings(ROOT / "config/hotline.yaml", {  # catalog: the six demo hospitals
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "kiosk": {"secrets": {KIOSK: SECRET}}, "data_dir": str(tmp_path)})
    assert not (settings.raw.get("web") or {}).get("public_url")
    sms, clock = Sms(), ShiftedClock(reactor())
    running = await start(settings, reactor(), on_sms=sms.on_sms, clock=clock)
    link_to_self(running)  # what `hotline demo` does
    yield running, sms, clock
    await running.stop()


def first17_id() -> str:
    first = "44030519880808123"
    return first + check_char(first)


@pytest_twisted.ensureDeferred
async def test_book_on_the_web_open_the_qr_and_check_in_at_the_kiosk(product) -> None:
    need_chromium()
    need_font()
    running, sms, clock = product
    base = f"http://127.0.0.1:{running.http_port}"
    id_number = first17_id()

    async def visit_day(tcode: str) -> str:
        """The server's clock to the booked session's start on its day (check-in is open)."""
        [booking] = [b for b in await running.booking.bookings_for(MSISDN) if b.tcode == tcode]
        hospital = running.booking.platform.hospital(booking.hospital_id)
        assert hospital is not None
        tmpl = hospital.department(booking.dept_id).session(booking.session)
        at = dt.datetime.combine(booking.day, tmpl.start, hospital.tz).timestamp()
        clock.offset = at - reactor().seconds()
        return booking.hospital_id

    def journey() -> dict[str, Any]:
        from playwright.sync_api import sync_playwright

        seen: dict[str, Any] = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            try:
                phone = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
                phone.set_default_timeout(15_000)
                phone.goto(base + "/book/")
                seen["hospitals"] = phone.inner_text("#hospitals")
                phone.click("#hospitals li:nth-child(2) a")  # not the first: a real choice
                phone.click("#departments li:first-child a")
                phone.click("#days li:first-child a")
                phone.click("#sessions li:first-child a")
                phone.fill("#phone", PHONE)
                phone.click("#send")
                phone.fill("#code", sms.next(MSISDN, r"(?<!\d)(\d{6})(?!\d)").group(1))
                phone.click("#verify")
                phone.fill("#id_number", id_number)
                phone.click("#confirm")
                tcode = seen["tcode"] = phone.inner_text("#tcode")
                seen["sms"] = sms.next(MSISDN, tcode).string
                link = re.search(r"http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_-]{22}", seen["sms"])
                assert link, seen["sms"]
                seen["qr_page_status"] = phone.goto(link.group(0)).status
                seen["qr_page"] = phone.inner_text("body")
                seen["qr_page_png"] = phone.screenshot(full_page=True)
                phone.close()

                seen["hospital"] = threads.blockingCallFromThread(
                    reactor(), lambda: defer.ensureDeferred(visit_day(tcode)))
                kiosk = browser.new_page(viewport={"width": 1024, "height": 768})
                kiosk.set_default_timeout(15_000)
                kiosk.add_init_script(PRINTS)  # a print dialog would block a headless browser
                kiosk.goto(f"{base}/kiosk/#kiosk={KIOSK}&secret={SECRET}")
                kiosk.keyboard.type(tcode)  # as a USB scanner does: digits, then Enter
                kiosk.keyboard.press("Enter")
                kiosk.wait_for_selector("#verdict[data-code=ready]")
                seen["verified"] = kiosk.inner_text("#result")
                kiosk.click("#checkin")
                kiosk.wait_for_selector("#verdict[data-code=checked_in]")
                kiosk.wait_for_function("window.__printed === 1")
                kiosk.emulate_media(media="print")
                seen["slip"] = kiosk.inner_text("#slip")
                seen["slip_png"] = kiosk.screenshot(full_page=True)
            finally:
                browser.close()
        return seen

    seen = await threads.deferToThread(journey)
    tcode = seen["tcode"]
    assert "深圳市南山区人民医院（演示）" in seen["hospitals"]  # the platform's list
    assert seen["hospital"] == "ns-renmin"  # booked where the patient chose
    assert re.fullmatch(r"\d{10}", tcode)
    assert seen["sms"].startswith("【南山医院】预约成功") and tcode in seen["sms"]
    assert seen["qr_page_status"] == 200
    assert decode_qr(seen["qr_page_png"]) == [tcode]
    assert "南山区人民医院" in seen["qr_page"] and mask_tail(id_number) in seen["qr_page"]
    assert id_number not in seen["qr_page"]
    assert "可以签到" in seen["verified"] and tcode in seen["verified"]
    slip = seen["slip"]
    assert "深圳市南山区人民医院（演示）" in slip and tcode in slip
    assert "\n1\n" in f"\n{slip}\n"  # the queue number: the session's first check-in
    assert id_number not in slip and mask_tail(id_number) in slip
    assert decode_qr(seen["slip_png"]) == [tcode]
    stored = await running.booking.redis.hgetall(f"hl:bk:{tcode}")
    assert {k: stored.get(k) for k in ("hospital", "channel", "status", "kiosk_id", "queue_no")} \
        == {"hospital": "ns-renmin", "channel": "web", "status": "checked_in", "kiosk_id": KIOSK,
            "queue_no": "1"}
