"""Short links to a booking's QR code: ``/t/<token>``, sent in the confirmation SMS.

The token is random (``secrets.token_urlsafe``, 128 bits) and unrelated to the T-code, so a link
seen over a shoulder or in a proxy log gives nothing to guess from; it maps to a snapshot of what
the page may show (names, the T-code, masked ID and phone: never a full number) and expires at
the end of the visit day. The same booking always gets the same token, so an event read twice
does not make two links.

Unknown tokens are limited per client address with the kiosk API's own sliding-minute limiter
(booking's ``kiosk_lookup.lua``, on the failure log ``hl:kf:t:<address>``), the lookup and the
count in one script: over the limit, 429 with ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from booking.api import BookingError, BookingService, RateLimited
from pii import mask_tail
from web.qr import qr_svg

log = Logger()
TOKEN_BYTES = 16
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")  # token_urlsafe(16)
WINDOW_S = 60
# what the page shows and nothing else (all masked or public)
FIELDS = ("tcode", "day", "hospital_zh", "hospital_en", "dept_zh", "dept_en", "day_zh", "day_en",
          "session_zh", "session_en", "id_number", "phone")
_LOOKUP = resources.files("booking").joinpath("kiosk_lookup.lua").read_text(encoding="utf-8")


def token_key(token: str) -> str:
    """Hash of the page's fields (``FIELDS``), expiring at the end of the visit day."""
    return f"hl:tl:{token}"


def code_key(tcode: str) -> str:
    """The token already made for a T-code (one link per booking)."""
    return f"hl:tl:tc:{tcode}"


def failures_key(client: str) -> str:
    """Sliding-minute log of one client address's unknown tokens (as ``hl:kf:a:`` for kiosks)."""
    return f"hl:kf:t:{client}"


class TicketLinks:
    """Make and find the ``/t/<token>`` links; ``limit``: unknown tokens per address a minute."""

    def __init__(self, redis: Any, public_url: str, clock: Callable[[], float],
                 limit: int = 30) -> None:
        self.redis = redis
        self.base = public_url.rstrip("/")
        self.clock = clock
        self.limit = limit

    def url(self, token: str) -> str:
        return f"{self.base}/t/{token}"

    async def make(self, ticket: Mapping[str, str], expires_at: float) -> str:
        """The link for ``ticket`` (``FIELDS``); the same T-code always gets the same token."""
        mine = secrets.token_urlsafe(TOKEN_BYTES)
        ttl = str(max(1, int(expires_at - self.clock())))  # our clock's, not Redis's, now
        key = code_key(ticket["tcode"])
        made = await self.redis.execute_command("SET", key, mine, "NX", "EX", ttl)
        token = mine if made else (await self.redis.execute_command("GET", key) or mine)
        fields = [x for name in FIELDS for x in (name, str(ticket.get(name, "")))]
        await self.redis.execute_command("HSET", token_key(token), *fields)
        await self.redis.execute_command("EXPIRE", token_key(token), ttl)
        return self.url(token)

    async def find(self, token: str, client: str) -> dict[str, str] | None:
        """The ticket behind ``token``, or None (counted against ``client``); RateLimited when
        ``client`` is over the limit (nothing looked up)."""
        well_formed = bool(_TOKEN.match(token))
        reply = await self.redis.execute_command(
            "EVAL", _LOOKUP, 2, token_key(token if well_formed else "-"), failures_key(client),
            repr(self.clock()), WINDOW_S, int(well_formed), self.limit)
        if reply[0] == "rate_limited":
            raise RateLimited("Too many wrong links. Please wait a minute.", int(reply[1]))
        if reply[0] != "ok":
            return None
        return {str(k): str(v) for k, v in zip(reply[1::2], reply[2::2], strict=True)}


def end_of_day(day: dt.date, tz: dt.tzinfo) -> float:
    """When a link for a visit on ``day`` stops working: midnight after it, hospital time."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz).timestamp()


class ConfirmationLinks:
    """``event -> link`` for a ``booked`` event's confirmation SMS: the link to the code's QR
    page, or None while ``links`` has no public address (read at each event: the demo sets its
    own once its port is bound) or when the booking is gone before its SMS went out."""

    def __init__(self, links: TicketLinks, booking: BookingService, platform: Callable[[], Any],
                 day_label: Callable[[dt.date, str], str]) -> None:
        self.links, self.booking, self.platform, self.day_label = (links, booking, platform,
                                                                   day_label)

    async def __call__(self, event: Mapping[str, str]) -> str | None:
        if not self.links.base:
            return None
        found = [b for b in await self.booking.bookings_for(event["msisdn"])
                 if b.tcode == event["tcode"]]
        if not found:  # cancelled or lapsed before the SMS went out: no link to a dead code
            return None
        b = found[0]
        platform = self.platform()
        hospital = platform.hospital(b.hospital_id)
        names = b.dept_name
        ticket = {"tcode": b.tcode, "day": b.day.isoformat(), "id_number": mask_tail(b.id_number),
                  "phone": mask_tail(b.msisdn)}
        for lang in ("zh", "en"):
            ticket[f"hospital_{lang}"] = b.hospital_name.get(lang) or b.hospital_name.get("zh", "")
            ticket[f"dept_{lang}"] = names.get(lang) or names.get("zh", "")
            ticket[f"day_{lang}"] = self.day_label(b.day, lang)
            ticket[f"session_{lang}"] = b.session_label.get(lang) or b.session
        tz = hospital.tz if hospital is not None else platform.hospitals[0].tz
        return await self.links.make(ticket, end_of_day(b.day, tz))


# ---- the page ------------------------------------------------------------------------------

_GONE = {"cancelled", "expired", "no_show", "not_found"}  # no QR: the code cannot be used
STATUS = {
    "ok": ("今天可签到", "You can check in today"),
    "not_today": ("请在就诊当天到自助机签到", "Check in at a kiosk on the day of your visit"),
    "too_early": ("签到尚未开始", "Check-in has not opened yet"),
    "too_late": ("已过签到时间", "Check-in has closed"),
    "already_checked_in": ("已签到", "Checked in"),
    "held": ("等待付款", "Waiting for payment"),
    "cancelled": ("预约已取消", "This booking was cancelled"),
    "expired": ("预约已失效", "This booking has lapsed"),
    "no_show": ("预约已失效", "This booking was missed"),
    "not_found": ("预约已失效", "This booking no longer exists"),
}
_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em auto; max-width: 26em; text-align: center; }}
.code {{ font-size: 2em; letter-spacing: .1em; font-family: monospace; }}
.qr svg {{ width: 70vw; max-width: 18em; height: auto; }}
dl {{ text-align: left; display: grid; grid-template-columns: auto 1fr; gap: .3em 1em; }}
dt {{ color: #555; }} dd {{ margin: 0; }} .status {{ font-size: 1.3em; font-weight: bold; }}
</style></head>
<body>{body}</body></html>
"""


def _page(title: str, body: str) -> bytes:
    return _PAGE.format(title=html.escape(title), body=body).encode("utf-8")


def ticket_body(ticket: Mapping[str, str], status: str) -> str:
    """The page of one ticket: QR (unless the code can no longer be used), digits, where and
    when, masked ID and phone, and what the kiosk would say now."""
    e = {k: html.escape(v) for k, v in ticket.items()}
    zh, en = STATUS.get(status, STATUS["not_found"])
    qr = "" if status in _GONE else f'<div class="qr">{qr_svg(ticket["tcode"])}</div>'
    code = "" if status in _GONE else f'<p class="code" id="tcode">{e["tcode"]}</p>'
    return (
        f"<h1>{e['hospital_zh']}<br><small>{e['hospital_en']}</small></h1>"
        f'<p class="status" id="status">{html.escape(zh)}<br>{html.escape(en)}</p>{qr}{code}'
        f"<dl><dt>科室 Department</dt><dd>{e['dept_zh']} / {e['dept_en']}</dd>"
        f"<dt>日期 Date</dt><dd>{e['day_zh']} / {e['day_en']}</dd>"
        f"<dt>时段 Session</dt><dd>{e['session_zh']} / {e['session_en']}</dd>"
        f"<dt>身份证 ID</dt><dd>{e['id_number']}</dd>"
        f"<dt>手机 Phone</dt><dd>{e['phone']}</dd></dl>"
        "<p>到院后在自助机扫描此二维码签到。<br>Scan this code at a hospital kiosk to check in.</p>"
    )


NOT_FOUND_BODY = ("<h1>链接无效或已过期</h1><p>This link is unknown or has expired.</p>"
                  "<p>请使用短信中的10位取号码。<br>Use the 10-digit code in your SMS.</p>")


class TicketPages(Resource):
    """``/t/<token>``: the ticket's page, or 404 (unknown or expired), or 429."""

    def __init__(self, links: TicketLinks, booking: BookingService,
                 client: Callable[[Request], str]) -> None:
        super().__init__()
        self.links = links
        self.booking = booking
        self.client = client

    def getChild(self, path: bytes, request: Request) -> Resource:
        return _TicketPage(self, path.decode("ascii", "replace"))

    def render_GET(self, request: Request) -> bytes:
        return _answer(request, 404, NOT_FOUND_BODY)


def _answer(request: Request, status: int, body: str, title: str = "T-code") -> bytes:
    request.setResponseCode(status, b"Too Many Requests" if status == 429 else None)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"referrer-policy", b"no-referrer")  # the token stays off other sites
    return _page(title, body)


class _TicketPage(Resource):
    isLeaf = True

    def __init__(self, pages: TicketPages, token: str) -> None:
        super().__init__()
        self.pages = pages
        self.token = token

    def render_GET(self, request: Request) -> object:
        async def run() -> None:
            try:
                ticket = await self.pages.links.find(self.token, self.pages.client(request))
            except RateLimited as exc:
                request.setHeader(b"retry-after", b"%d" % exc.retry_after_s)
                body = _answer(request, 429, "<h1>请稍后再试</h1><p>Please try again later.</p>")
            else:
                if ticket is None:
                    body = _answer(request, 404, NOT_FOUND_BODY)
                else:
                    status = await self._status(ticket["tcode"])
                    body = _answer(request, 200, ticket_body(ticket, status))
            if not request.finished and not request._disconnected:  # type: ignore[attr-defined]
                request.write(body)
                request.finish()

        def failed(failure: Any) -> None:
            log.failure("ticket_page.failed", failure)
            if not request.finished and not request._disconnected:  # type: ignore[attr-defined]
                request.write(_answer(request, 500, "<h1>Error</h1>"))
                request.finish()

        Deferred.fromCoroutine(run()).addErrback(failed)
        return NOT_DONE_YET

    async def _status(self, tcode: str) -> str:
        """What the kiosk would say about the code now (no kiosk: not counted or limited)."""
        try:
            await self.pages.booking.verify(tcode)
        except BookingError as exc:
            return exc.code
        return "ok"
