"""The web pages and the terminal API on a real TCP port: the booking core on the real Redis
at the demo moment (a ``task.Clock``), wired as ``hotline.web_wiring`` wires them, with the SMS
the pages queue kept in ``sent``. ``Visitor`` is a cookie-keeping HTTP client (treq)."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import treq
from demo_booking import demo_service
from twisted.internet import reactor
from twisted.web.server import Site

from hotline import web_wiring
from hotline.app import load_static
from settings.schema import load_settings
from sms.api import OutgoingSms
from web.root import build_root

ROOT = Path(__file__).resolve().parents[2]


class Outbox:
    """Stands in for the SMS sender: what was queued, in order."""

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []

    def send(self, message: OutgoingSms) -> None:
        self.sent.append(message)

    def last_code(self, msisdn: str) -> str:
        mine = [m for m in self.sent if m.to == msisdn and m.kind == "otp"]
        assert mine, f"no code was sent to {msisdn}"
        found = re.search(r"(?<!\d)\d{6}(?!\d)", mine[-1].text)
        assert found, mine[-1].text
        return found.group(0)


class Server:
    def __init__(self, redis: Any, overrides: dict[str, Any] | None = None,
                 service: Any = None, clock: Any = None) -> None:
        """``service``, ``clock``: another booking service (over a platform of several
        hospitals) than the Redis one on the demo hospital."""
        settings = load_settings(ROOT / "config/hotline.yaml", overrides or {})
        platform, menus, templates = load_static(settings)
        self.service, self.clock = (service, clock) if service else demo_service(redis)
        self.outbox = Outbox()
        root = build_root(self.service, redis.ping)
        web_wiring.mount(root, settings, self.service, redis, self.clock, self.outbox, menus,
                         templates, platform.hospitals[0])
        self.port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
        self.base = f"http://127.0.0.1:{self.port.getHost().port}"

    async def stop(self) -> None:
        await self.port.stopListening()


class Visitor:
    """A browser without a browser: keeps cookies, reads the CSRF token of the last page."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.cookies: dict[str, str] = {}
        self.set_cookie: list[str] = []
        self.headers = headers or {}
        self.csrf = ""

    async def _do(self, method: str, path: str, data: dict[str, str] | None = None
                  ) -> tuple[int, str, Any]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers = {**self.headers, **({"cookie": cookie} if cookie else {})}
        response = await treq.request(method, self.base + path, data=data, headers=headers,
                                      allow_redirects=False)
        body = await response.text("utf-8")
        self.set_cookie = [h.decode() for h in
                           response.headers.getRawHeaders(b"set-cookie") or []]
        for header in self.set_cookie:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        found = re.search(r'name="csrf" value="([^"]+)"', body)
        if found:
            self.csrf = found.group(1)
        return response.code, body, response.headers

    async def get(self, path: str) -> tuple[int, str, Any]:
        return await self._do("GET", path)

    async def post(self, path: str, fields: dict[str, str], csrf: bool = True
                   ) -> tuple[int, str, Any]:
        return await self._do("POST", path, {**({"csrf": self.csrf} if csrf else {}), **fields})

    async def ask_code(self, phone: str) -> tuple[int, str, Any]:
        if not self.csrf:
            await self.get("/book/login")
        return await self.post("/book/login", {"phone": phone, "next": "/book/mine"})

    async def give_code(self, phone: str, code: str) -> tuple[int, str, Any]:
        return await self.post("/book/verify", {"phone": phone, "code": code,
                                                "next": "/book/mine"})
