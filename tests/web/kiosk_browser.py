"""A real server for the kiosk screen tests: the HTTP tree the product builds (kiosk API, kiosk
screen, PDF slip, ``/t/<token>``) on the real Redis, listening on an ephemeral port, with the
booking clock fixed at 09:00 on the visit day; and Debian's chromium driven by Playwright.

Playwright's sync API runs in a thread of its own (``run_in_browser``) while the reactor serves
the page in the test's thread. Without chromium the tests skip, except in CI (``CI=true``),
where they fail: a CI that ran none of them would pass for nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from demo_booking import NOW, ROOT, demo_service, valid_id
from twisted.internet import reactor, threads
from twisted.web.server import Site

from booking.api import Booking, BookingRequest
from booking.catalog import Platform, load_catalog
from hotline.kiosk_wiring import link_maker, mount_kiosk, ticket_links
from web.kiosk import KioskAccess
from web.root import build_root

CHROMIUM = "/usr/bin/chromium"
KIOSK, SECRET = "lobby-1", "s3cret-lobby-1"
PHONE = "8613800138000"
VISIT = NOW.date() + dt.timedelta(days=1)  # the demo clock's tomorrow
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
T = TypeVar("T")


def need_chromium() -> None:
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


def need_font() -> None:
    if os.path.exists(FONT):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{FONT} is missing: .ci/run installs fonts-wqy-microhei")
    pytest.skip(f"{FONT} is missing (apt-get install fonts-wqy-microhei)")


class KioskServer:
    """The product's HTTP tree on 127.0.0.1:<ephemeral>; ``book`` makes bookings first."""

    def __init__(self, redis: Any, *, font: str = FONT, public_url: str | None = None) -> None:
        self.redis = redis
        self.service, self.clock = demo_service(redis)
        self.catalog = load_catalog(ROOT / "config/hospital.yaml")
        self.access = KioskAccess.from_settings({"kiosk": {"ids": [KIOSK],
                                                           "secrets": {KIOSK: SECRET}}})
        root = build_root(self.service, redis.ping, kiosk_access=self.access)
        self.port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.base = f"http://127.0.0.1:{self.port.getHost().port}"
        self.settings = SimpleNamespace(raw={
            "kiosk": {"idle_s": 30, "pdf_font": font},
            "web": {"public_url": public_url or self.base},
        })
        self.platform = Platform.of(self.catalog)
        self.links = ticket_links(self.settings, redis, self.platform, self.clock)
        mount_kiosk(root, self.settings, self.service, self.platform, self.links, self.access)
        self.n = 0

    async def book(self, day: dt.date = VISIT, dept: str = "nk", session: str = "am") -> Booking:
        self.n += 1
        return await self.service.book(BookingRequest(dept, day, session, valid_id(self.n),
                                                      PHONE, "ussd"))

    def visit_day(self, hour: int = 9) -> None:
        """The server's clock to ``hour`` o'clock on the visit day (the booking day is NOW)."""
        at = dt.datetime.combine(VISIT, dt.time(hour), NOW.tzinfo).timestamp()
        self.clock.advance(at - self.clock.seconds())

    async def link(self, booking: Booking) -> str:
        make = link_maker(self.links, self.service, lambda: self.platform)
        assert make is not None
        made = await make({"tcode": booking.tcode, "msisdn": booking.msisdn})
        assert made is not None
        return made

    async def close(self) -> None:
        await self.port.stopListening()


def run_in_browser(script: Callable[[Any], T], args: list[str] | None = None) -> Any:
    """``script(page)`` in headless chromium started with ``args``, in a thread (a Deferred of
    its result)."""

    def run() -> T:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args or [])
            try:
                page = browser.new_page(viewport={"width": 1024, "height": 768})
                page.set_default_timeout(15_000)
                return script(page)
            finally:
                browser.close()

    return threads.deferToThread(run)


def decode_qr(png: bytes) -> list[str]:
    """The texts of every QR code in a screenshot."""
    import zxingcpp
    from PIL import Image

    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
