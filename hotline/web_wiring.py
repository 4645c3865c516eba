"""Wiring of the patient web pages (``/book/``, ``web.book``) and the partner terminal API
(``/api/terminal/v1``, ``web.terminal``): both share one phone check (``web.otp``), whose
codes go out through the SMS outbox like every other SMS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from twisted.web.resource import Resource

import metrics
from booking.idcard import is_valid_resident_id
from booking.rules import day_label
from settings.schema import Settings, SettingsError
from web.book import BookPages, WebOptions
from web.booktexts import Texts
from web.clientaddr import parse_networks
from web.otp import OtpLimits, PhoneCheck, default_otp_text
from web.terminal import TerminalAccess, TerminalApi


def otp_text(templates: Mapping[str, Mapping[str, str]]) -> Any:
    """The ``otp`` SMS template when the templates have one, else the built-in text."""
    per_lang = templates.get("otp")
    if not per_lang:
        return default_otp_text

    def text(code: str, lang: str, minutes: int) -> str:
        chosen = per_lang.get(lang) or per_lang.get("zh") or next(iter(per_lang.values()))
        return chosen.format(code=code, minutes=minutes)

    return text


def mount(root: Any, settings: Settings, booking: Any, redis: Any, clock: Any, sender: Any,
          menus: Any, templates: Mapping[str, Mapping[str, str]], catalog: Any) -> None:
    """``/book/`` when ``web.enabled``; ``/api/terminal/v1`` when terminals are registered.
    ``catalog``: the platform's first hospital (its timezone dates the ID rules' today)."""
    raw = settings.raw
    web, terminal = raw["web"], raw["terminal"]
    try:
        access = TerminalAccess.from_settings(terminal)
    except ValueError as exc:
        raise SettingsError(f"settings: {exc}") from exc
    if not web["enabled"] and not access.secrets:
        return
    phones = PhoneCheck(redis, clock, sender.send, limits=OtpLimits.from_settings(web),
                        text=otp_text(templates))
    if web["enabled"]:
        def reason(code: str, lang: str) -> str:
            kind = templates.get(f"reason.{code}") or {}
            return kind.get(lang) or ""

        def valid_id(text: str) -> bool:
            today = dt.datetime.fromtimestamp(clock.seconds(), catalog.tz).date()
            return is_valid_resident_id(text.strip().upper(), today=today)

        menu = menus.definitions.get(settings.default_menu)
        root.putChild(b"book", BookPages(
            booking, phones, texts=Texts(menu, reason), valid_id=valid_id, day_label=day_label,
            options=WebOptions(cookie_secure=bool(web["cookie_secure"]),
                               session_s=int(web["session_s"]),
                               trusted_proxies=parse_networks(raw["http"]["trusted_proxies"])),
            count=metrics.booking))
    if access.secrets:
        api = root.children[b"api"]
        versions = api.children.get(b"terminal")
        if versions is None:
            versions = Resource()
            api.putChild(b"terminal", versions)
        versions.putChild(b"v1", TerminalApi(
            booking, phones, access, redis, clock, count=metrics.booking))

