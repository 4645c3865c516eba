"""The kiosk screen in a real browser (Debian's chromium, Playwright) against a real server and
Redis: scan by typing the code and Enter, check in with one touch, the printed slip's QR decodes
back to the T-code; a second scan says already checked in, a code of another day says so; the
keypad, the language switch and the return to the idle screen; the ``/t/<token>`` page."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import pytest_twisted
import treq
from kiosk_browser import (
    KIOSK,
    PHONE,
    SECRET,
    VISIT,
    KioskServer,
    decode_qr,
    need_chromium,
    need_font,
    run_in_browser,
)

from pii import mask_tail

SCANNER = "window.__printed = 0; window.print = () => { window.__printed += 1; };"


@pytest.fixture
def chromium() -> None:
    need_chromium()


@pytest_twisted.async_yield_fixture
async def server(redis: Any):
    running = KioskServer(redis)
    yield running
    await running.close()


def kiosk_url(server: KioskServer) -> str:
    return f"{server.base}/kiosk/#kiosk={KIOSK}&secret={SECRET}"


@pytest_twisted.ensureDeferred
async def test_scan_check_in_print_and_scan_again(chromium: None, server: KioskServer) -> None:
    booking = await server.book()
    later = await server.book(day=VISIT.replace(day=VISIT.day + 1))
    server.visit_day(9)

    def script(page: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        page.add_init_script(SCANNER)  # the print dialog would block a headless browser
        page.goto(kiosk_url(server))
        seen["url"] = page.url  # the secret is taken off the address bar
        page.keyboard.type(booking.tcode)  # a scanner: digits and Enter, nothing focused
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict[data-code=ready]")
        seen["verified"] = page.inner_text("#result")
        page.click("#checkin")
        page.wait_for_selector("#verdict[data-code=checked_in]")
        page.wait_for_function("window.__printed === 1")
        page.emulate_media(media="print")
        seen["slip"] = page.inner_text("#slip")
        seen["print_png"] = page.screenshot(full_page=True)
        seen["screen_in_print"] = page.is_visible("header") or page.is_visible("#verdict")
        page.emulate_media(media="screen")
        page.keyboard.type(booking.tcode)  # the same code again
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict[data-code=already_checked_in]")
        seen["again"] = page.inner_text("#verdict")
        page.keyboard.type(later.tcode)
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict[data-code=not_today]")
        seen["other_day"] = page.inner_text("#verdict")
        return seen

    seen = await run_in_browser(script)
    assert seen["url"].endswith("/kiosk/") and SECRET not in seen["url"]
    assert "可以签到" in seen["verified"] and "内科" in seen["verified"]
    assert mask_tail(booking.id_number) in seen["verified"]
    assert booking.id_number not in seen["verified"] and PHONE not in seen["verified"]
    assert decode_qr(seen["print_png"]) == [booking.tcode]
    assert seen["screen_in_print"] is False  # the print view is the slip alone
    slip = seen["slip"]
    assert "深圳市第一人民医院" in slip and "内科" in slip and VISIT.isoformat() in slip
    assert "上午" in slip and booking.tcode in slip and mask_tail(booking.id_number) in slip
    assert "\n1\n" in f"\n{slip}\n"  # the queue number: the session's first check-in
    assert booking.id_number not in slip
    assert seen["again"] == "该预约已签到"
    assert seen["other_day"] == "该预约不是今天的"
    stored = await server.redis.hgetall(f"hl:bk:{booking.tcode}")
    assert stored["status"] == "checked_in" and stored["kiosk_id"] == KIOSK
    assert stored["queue_no"] == "1"



# A stand-in for the BarcodeDetector of browsers that ship one (Debian's chromium does not). It
# is stricter than the real one where the page could go wrong: it must be asked for qr_code, and
# it finds the code only in a <video> that shows the camera's picture.
DETECTOR = """
window.__asked = [];
window.BarcodeDetector = class {
  static async getSupportedFormats() { return %(formats)s; }
  constructor(options) {
    if (!options || !(options.formats || []).includes("qr_code")) throw new TypeError("formats");
  }
  async detect(source) {
    const playing = source instanceof HTMLVideoElement && source.videoWidth > 0
      && source.srcObject && source.srcObject.getVideoTracks()[0].readyState === "live";
    window.__asked.push(playing);
    return playing && window.__asked.length >= 3 ? [{rawValue: "%(code)s", format: "qr_code"}] : [];
  }
};
"""
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest_twisted.ensureDeferred
async def test_no_camera_button_without_a_qr_detector(chromium: None, server: KioskServer) -> None:
    """Debian's chromium has no BarcodeDetector; a detector without qr_code, or a browser
    without a camera API, gets no button either."""

    def script(page: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        page.goto(kiosk_url(server))
        page.wait_for_selector("html[data-camera]")  # the page has decided
        seen["detector"] = page.evaluate("typeof window.BarcodeDetector")
        seen["plain"] = page.is_visible("#camera")
        for name, extra in (("no_qr", DETECTOR % {"formats": '["ean_13"]', "code": "0"}),
                            ("no_camera_api", DETECTOR % {"formats": '["qr_code"]', "code": "0"}
                             + "Object.defineProperty(navigator, 'mediaDevices', "
                               "{value: undefined});")):
            other = page.context.browser.new_page()
            other.add_init_script(extra)
            other.goto(f"{server.base}/kiosk/")
            other.wait_for_selector("html[data-camera]")
            seen[name] = (other.evaluate("typeof window.BarcodeDetector"),
                          other.is_visible("#camera"))
        return seen

    seen = await run_in_browser(script)
    assert seen["detector"] == "undefined"  # if chromium ships one, the other test covers it
    assert seen["plain"] is False
    assert seen["no_qr"] == ("function", False) and seen["no_camera_api"] == ("function", False)


@pytest_twisted.ensureDeferred
async def test_the_camera_reads_the_code_and_verifies(chromium: None,
                                                      server: KioskServer) -> None:
    booking = await server.book()
    server.visit_day(9)

    def script(page: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        page.add_init_script(DETECTOR % {"formats": '["qr_code", "ean_13"]',
                                         "code": booking.tcode})
        page.goto(kiosk_url(server))
        page.wait_for_selector("#camera", state="visible")
        seen["label"] = page.inner_text("#camera")
        page.click("#camera")
        page.wait_for_selector("#verdict[data-code=ready]")
        seen["verified"] = page.inner_text("#result")
        seen["asked"] = page.evaluate("window.__asked")
        seen["camera_off"] = page.evaluate(
            "document.getElementById('viewfinder').srcObject === null")
        page.click("#checkin")
        page.wait_for_selector("#verdict[data-code=checked_in]")
        return seen

    seen = await run_in_browser(script, args=FAKE_CAMERA)
    assert seen["label"] == "用摄像头扫码"
    assert seen["asked"][-1] is True  # the code came from the playing camera picture
    assert "可以签到" in seen["verified"] and "内科" in seen["verified"]
    assert mask_tail(booking.id_number) in seen["verified"]
    assert seen["camera_off"] is True  # the camera stops once it has read a code
    assert await server.redis.hget(f"hl:bk:{booking.tcode}", "status") == "checked_in"


@pytest_twisted.ensureDeferred
async def test_keypad_language_and_the_idle_screen(chromium: None, server: KioskServer) -> None:
    booking = await server.book()
    server.visit_day(9)

    def script(page: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        page.clock.install()  # the page's own timers, moved on by the test
        page.goto(kiosk_url(server))
        page.click("[data-lang=en]")
        for digit in booking.tcode[:-1] + "9":  # a wrong last digit, then corrected
            page.click(f".keypad [data-key='{digit}']")
        page.click(".keypad [data-key=back]")
        page.click(f".keypad [data-key='{booking.tcode[-1]}']")
        seen["entry"] = page.inner_text("#entry")
        page.click(".keypad [data-key=enter]")
        page.wait_for_selector("#verdict[data-code=ready]")
        seen["verdict"] = page.inner_text("#verdict")
        seen["button"] = page.inner_text("#checkin")
        page.clock.run_for(29_000)
        seen["still_shown"] = page.is_visible("#result")
        page.clock.run_for(2_000)
        seen["idle_after"] = page.is_visible("#idle") and not page.is_visible("#result")
        seen["entry_after"] = page.inner_text("#entry")
        return seen

    seen = await run_in_browser(script)
    assert seen["entry"] == booking.tcode
    assert seen["verdict"] == "Ready to check in" and seen["button"] == "Check in"
    assert seen["still_shown"] is True
    assert seen["idle_after"] is True and seen["entry_after"] == ""
    status = await server.redis.hget(f"hl:bk:{booking.tcode}", "status")
    assert status == "confirmed"  # verified only: no check-in without the touch


@pytest_twisted.ensureDeferred
async def test_an_unregistered_kiosk_is_refused(chromium: None, server: KioskServer) -> None:
    booking = await server.book()
    server.visit_day(9)

    def script(page: Any) -> str:
        page.goto(f"{server.base}/kiosk/#kiosk={KIOSK}&secret=wrong")
        page.keyboard.type(booking.tcode + "\n")
        page.wait_for_selector("#verdict[data-code=forbidden]")
        return page.inner_text("#verdict")

    assert "未登记" in await run_in_browser(script)


@pytest_twisted.ensureDeferred
async def test_the_qr_page_of_a_link(chromium: None, server: KioskServer) -> None:
    booking = await server.book()
    link = await server.link(booking)
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 22 and booking.tcode not in link
    assert await server.link(booking) == link  # one link per booking

    def script(page: Any) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        answer = page.goto(link)
        seen["status"] = answer.status
        seen["text"] = page.inner_text("body")
        seen["html"] = page.content()
        seen["png"] = page.screenshot(full_page=True)
        seen["unknown"] = page.goto(f"{server.base}/t/{'A' * 22}").status
        return seen

    seen = await run_in_browser(script)
    assert seen["status"] == 200
    assert decode_qr(seen["png"]) == [booking.tcode]
    text = seen["text"]
    assert booking.tcode in text and "内科" in text and "上午" in text
    assert "11月26日" in text and "深圳市第一人民医院" in text
    assert mask_tail(booking.id_number) in text and mask_tail(PHONE) in text
    for full in (booking.id_number, PHONE, PHONE[2:]):
        assert full not in seen["html"]
    assert "请在就诊当天" in text  # booked for tomorrow: what the kiosk would say today
    assert seen["unknown"] == 404


@pytest_twisted.ensureDeferred
async def test_link_guessing_is_limited_per_address(server: KioskServer) -> None:
    booking = await server.book()
    link = await server.link(booking)
    statuses = [(await treq.get(f"{server.base}/t/{n:022d}")).code for n in range(31)]
    assert statuses == [404] * 30 + [429]  # the kiosk's per-address limit (30 a minute)
    limited = await treq.get(link)  # the real link too, until the minute has passed
    assert limited.code == 429 and 1 <= int(limited.headers.getRawHeaders("retry-after")[0]) <= 60
    await limited.content()
    server.clock.advance(61)
    assert (await treq.get(link)).code == 200


@pytest_twisted.ensureDeferred
async def test_a_link_expires_after_the_visit_day(server: KioskServer) -> None:
    booking = await server.book()
    link = await server.link(booking)
    token = link.rsplit("/", 1)[1]
    ttl = await server.redis.execute_command("TTL", f"hl:tl:{token}")
    end = dt.datetime.combine(VISIT + dt.timedelta(days=1), dt.time(), server.catalog.tz)
    assert abs(ttl - (end.timestamp() - server.clock.seconds())) <= 1  # midnight after the visit
    assert await server.redis.execute_command("TTL", f"hl:tl:tc:{booking.tcode}") == ttl
    await server.redis.delete(f"hl:tl:{token}")  # what Redis does at that time
    assert (await treq.get(link)).code == 404


@pytest_twisted.ensureDeferred
async def test_pdf_slip_checks_in_and_holds_the_tcode(server: KioskServer) -> None:
    import io

    from pypdf import PdfReader

    need_font()
    booking = await server.book()
    first = await server.book()  # someone checked in before: this slip's number is 2
    server.visit_day(9)
    await server.service.check_in(first.tcode, KIOSK)
    url = f"{server.base}/api/kiosk/check-in.pdf"
    body = json.dumps({"tcode": booking.tcode, "kiosk_id": KIOSK, "lang": "en"}).encode()
    refused = await treq.post(url, body, headers={"x-kiosk-secret": "wrong"})
    assert refused.code == 403 and (await refused.json())["error"]["code"] == "forbidden"
    answer = await treq.post(url, body, headers={"x-kiosk-secret": SECRET})
    assert answer.code == 200
    assert answer.headers.getRawHeaders("content-type") == ["application/pdf"]
    pdf = await answer.content()
    assert pdf.startswith(b"%PDF-")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert booking.tcode in text and "Internal medicine" in text and "\n2\n" in text
    assert mask_tail(booking.id_number) in text and booking.id_number not in text
    again = await treq.post(url, body, headers={"x-kiosk-secret": SECRET})
    assert again.code == 409 and (await again.json())["error"]["code"] == "already_checked_in"


@pytest_twisted.ensureDeferred
async def test_pdf_slip_without_its_font_says_so_and_checks_nobody_in(redis: Any) -> None:
    server = KioskServer(redis, font="/nonexistent/wqy.ttc")
    try:
        booking = await server.book()
        server.visit_day(9)
        body = json.dumps({"tcode": booking.tcode, "kiosk_id": KIOSK}).encode()
        answer = await treq.post(f"{server.base}/api/kiosk/check-in.pdf", body,
                                 headers={"x-kiosk-secret": SECRET})
        error = (await answer.json())["error"]
        assert answer.code == 503 and error["code"] == "no_font"
        assert "kiosk.pdf_font" in error["message"] and "/nonexistent/wqy.ttc" in error["message"]
        assert await redis.hget(f"hl:bk:{booking.tcode}", "status") == "confirmed"
    finally:
        await server.close()


@pytest_twisted.ensureDeferred
async def test_the_slip_qr_is_drawn_for_ten_digits_only(server: KioskServer) -> None:
    url = f"{server.base}/kiosk/qr"
    for bad in (b'{"tcode": "12345"}', b'{"tcode": 1234567890}', b"not json", b"[]"):
        answer = await treq.post(url, bad)
        assert answer.code == 400, bad
        await answer.content()
    good = await treq.post(url, b'{"tcode": "0123456789"}')
    assert good.code == 200 and good.headers.getRawHeaders("content-type") == ["image/svg+xml"]
    assert (await good.text("utf-8")).startswith("<svg")
