"""The kiosk screen, the PDF slip and the T-code's QR page, wired from the settings
(``kiosk.*``, ``web.public_url``; docs/kiosk.md).

``mount_kiosk`` hangs ``/kiosk/``, ``/api/kiosk/check-in.pdf`` and ``/t/<token>`` on the HTTP
tree; ``link_maker`` is what the SMS side calls for a ``booked`` event to get the link the
confirmation carries (None while the links have no public address: ``web.public_url`` unset,
and not the demo, which uses its own address).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from twisted.logger import Logger

from booking.api import BookingService
from booking.catalog import Platform
from booking.rules import day_label
from pii import mask_tail
from web.kiosk import CountBooking, KioskAccess, no_count
from web.kiosk_screen import kiosk_screen
from web.slip import FontMissing, SlipPdf, check_font
from web.ticket_links import TicketLinks, TicketPages, end_of_day

log = Logger()
LinkMaker = Callable[[Mapping[str, str]], Awaitable[str | None]]


def ticket_links(settings: Any, redis: Any, platform: Platform, clock: Any) -> TicketLinks:
    """The link store; links are made only when ``web.public_url`` is set."""
    base = (settings.raw.get("web") or {}).get("public_url") or ""
    limit = min(int(h.policy.kiosk_failures_per_address_per_minute)  # as for kiosk guesses
                for h in platform.hospitals)
    return TicketLinks(redis, base, clock.seconds, limit=limit)


def link_maker(settings: Any, links: TicketLinks, booking: BookingService,
               platform: Callable[[], Platform]) -> LinkMaker:
    """``event -> link`` for the confirmation SMS (None while ``links`` has no public address,
    read at each event: the demo sets its own once its port is bound); ``platform()``: the
    hospitals in force (they are reloaded)."""

    async def link(event: Mapping[str, str]) -> str | None:
        if not links.base:
            return None
        found = [b for b in await booking.bookings_for(event["msisdn"])
                 if b.tcode == event["tcode"]]
        if not found:  # cancelled or lapsed before the SMS went out: no link to a dead code
            return None
        b = found[0]
        hospital = platform().hospital(b.hospital_id)
        names = b.dept_name
        ticket = {"tcode": b.tcode, "day": b.day.isoformat(), "id_number": mask_tail(b.id_number),
                  "phone": mask_tail(b.msisdn)}
        for lang in ("zh", "en"):
            ticket[f"hospital_{lang}"] = b.hospital_name.get(lang) or b.hospital_name.get("zh", "")
            ticket[f"dept_{lang}"] = names.get(lang) or names.get("zh", "")
            ticket[f"day_{lang}"] = day_label(b.day, lang)
            ticket[f"session_{lang}"] = b.session_label.get(lang) or b.session
        tz = hospital.tz if hospital is not None else platform().hospitals[0].tz
        return await links.make(ticket, end_of_day(b.day, tz))

    return link


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
