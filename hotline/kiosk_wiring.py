"""The kiosk screen, the PDF slip and the T-code's QR page, wired from the settings
(``kiosk.*``, ``web.public_url``; docs/kiosk.md).

``mount_kiosk`` hangs ``/kiosk/``, ``/api/kiosk/check-in.pdf`` and ``/t/<token>`` on the HTTP
tree; ``link_maker`` builds what the SMS side calls for a ``booked`` event to get the link the
confirmation carries (``web.ticket_links.ConfirmationLinks``: None while the links have no
public address, ``web.public_url`` unset and not the demo, which uses its own address).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.logger import Logger

from booking.api import BookingService
from booking.catalog import Platform
from booking.rules import day_label
from web.kiosk import CountBooking, KioskAccess, no_count
from web.kiosk_screen import kiosk_screen
from web.slip import FontMissing, SlipPdf, check_font
from web.ticket_links import ConfirmationLinks, TicketLinks, TicketPages

log = Logger()


def ticket_links(settings: Any, redis: Any, platform: Platform, clock: Any) -> TicketLinks:
    """The link store; links are made only when ``web.public_url`` is set."""
    base = (settings.raw.get("web") or {}).get("public_url") or ""
    limit = min(int(h.policy.kiosk_failures_per_address_per_minute)  # as for kiosk guesses
                for h in platform.hospitals)
    return TicketLinks(redis, base, clock.seconds, limit=limit)


def link_maker(links: TicketLinks, booking: BookingService,
               platform: Callable[[], Platform]) -> ConfirmationLinks:
    """``event -> link`` for the confirmation SMS; ``platform()``: the hospitals in force (they
    are reloaded)."""
    return ConfirmationLinks(links, booking, platform, day_label)


def mount_kiosk(root: Any, settings: Any, booking: BookingService, platform: Platform,
                links: TicketLinks, access: KioskAccess, count: CountBooking = no_count) -> None:
    """``/kiosk/``, ``/api/kiosk/check-in.pdf`` and ``/t/<token>``."""
    kiosk = settings.raw.get("kiosk") or {}
    font = str(kiosk.get("pdf_font") or "")
    try:
        check_font(font)
    except FontMissing as exc:  # the screen and the API work; only the PDF slip cannot
        log.error("kiosk.no_pdf_font why={why}", why=str(exc))
    # the screen's heading: the hospital's name, or the line's on a platform of several (each
    # slip then names the booking's hospital)
    title = platform.hospitals[0].name if platform.single or not platform.name else platform.name
    root.putChild(b"kiosk", kiosk_screen(title, float(kiosk.get("idle_s", 30))))
    api_kiosk = root.children[b"api"].children[b"kiosk"]
    api_kiosk.putChild(b"check-in.pdf", SlipPdf(booking, access, title, font, count))
    root.putChild(b"t", TicketPages(links, booking, access.client))
