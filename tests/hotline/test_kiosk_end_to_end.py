"""The product as ``hotline.app`` wires it, over real sockets: with ``web.public_url`` set, a
USSD booking's confirmation SMS carries the link to the T-code's QR page, the page answers on
the HTTP port, and the kiosk screen's files are served from the package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest_twisted
import treq
from test_cmpp_end_to_end import TCODE, book, reactor, until

from booking.idcard import check_char
from hotline.app import start
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"https://hotline\.example/t/([A-Za-z0-9_-]{22})")


@pytest_twisted.ensureDeferred
async def test_the_booking_sms_links_to_the_qr_page(redis, redis_url, tmp_path) -> None:
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "web": {"public_url": "https://hotline.example/"}, "data_dir": str(tmp_path)})
    seen: list[str] = []
    running = await start(settings, reactor(), on_sms=lambda to, src, text: seen.append(text))
    base = f"http://127.0.0.1:{running.http_port}"
    try:
        first17 = "44030519900101088"
        end = await book(running.http_port, "kiosk-e2e", first17 + check_char(first17))
        match = TCODE.search(end)
        assert match, end
        tcode = match.group(0)

        async def got_sms() -> bool:
            return bool(seen)

        await until(got_sms, "the T-code SMS")
        link = LINK.search(seen[0])
        assert link and tcode in seen[0], seen[0]
        page = await treq.get(f"{base}/t/{link.group(1)}")
        html = await page.text("utf-8")
        assert page.code == 200 and tcode in html and "<svg" in html
        assert first17 not in html  # the ID number is masked
        bare = await treq.get(f"{base}/kiosk", allow_redirects=False)
        assert bare.code == 302 and bare.headers.getRawHeaders("location") == ["/kiosk/"]
        await bare.content()
        screen = await treq.get(f"{base}/kiosk/")
        assert screen.code == 200 and "/kiosk/kiosk.js" in await screen.text("utf-8")
        script = await treq.get(f"{base}/kiosk/kiosk.js")
        assert script.code == 200 and "keydown" in await script.text("utf-8")
    finally:
        await running.stop()
