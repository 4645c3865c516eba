"""The hospital console under ``/console/``: accounts, the schedule, bookings, the blacklist.

Server-rendered pages (Jinja2 templates, package data of this package) for the hospital's
outpatient office and the operator's staff; docs/console.md is their manual. Booking is reached
only through ``web.console.adapter`` (one hospital's view per request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from twisted.web.resource import Resource

from web.clientaddr import parse_networks
from web.console.accounts import Accounts
from web.console.adapter import Platform
from web.console.audit import Audit
from web.console.guard import Limits, Sessions
from web.console.menu_pages import MenuPages
from web.console.menus import MenuDesk
from web.console.pages import Console, Live

__all__ = ["Console", "install_console"]


def install_console(root: Resource, booking: Any, redis: Any, raw: Mapping[str, Any], *,
                    days_ahead: int, clock: Any, rate: Any = None,
                    sms_figures: Callable[[], Awaitable[dict[str, Any]]] | None = None,
                    sms: tuple[Any, Any] | None = None, menus: MenuDesk | None = None) -> Console:
    """Mount ``/console/`` on ``root``. ``raw``: the settings (``console``, ``http``); ``clock``:
    the server's notion of now (sessions, login windows, audit times). For the dashboard:
    ``rate`` (dialogues per minute) and ``sms_figures`` (the outbox, delivery); ``sms``: the
    outbox's sender and the SMS renderer, which answer appeals; ``menus``: the menu pages and
    the simulator (``menudesk.desk``), none without it."""
    conf = raw["console"]
    limits = Limits(session_s=float(conf["session_s"]),
                    attempts_per_user=int(conf["login_attempts_per_user"]),
                    attempts_per_address=int(conf["login_attempts_per_address"]),
                    window_s=float(conf["login_window_s"]))
    accounts = Accounts(redis)
    platform = Platform(booking, days_ahead)
    console = Console(platform, accounts, Sessions(redis, accounts, clock, limits),
                      Audit(redis, clock, int(conf["audit_keep"])),
                      parse_networks(raw["http"].get("trusted_proxies")),
                      Live(rate, sms_figures, *(sms or (None, None))))
    if menus is not None:
        console.menu_pages = MenuPages(console, menus)
    root.putChild(b"console", console)
    return console
