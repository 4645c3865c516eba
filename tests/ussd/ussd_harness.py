"""USSD test harness: a real HTTP server on 127.0.0.1:0 and a small hand-written dialogue.

``listen`` serves a resource tree as hotline does (``ussd.httpport``: gateway paths on the
lean protocol, the rest on twisted.web) or, with ``via="twisted.web"``, on a plain Site: the
path a gateway path takes on a connection that also asked for another path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.web.resource import Resource
from twisted.web.server import Site

from hotline.ussd_wiring import gateway_routes
from menus.types import Digits, Input, Output, Say, SayDigits, Session, Wait
from ussd.at import AtUssdResource
from ussd.httpport import GatewayHttpFactory
from ussd.sessions import UssdSessionStore

PHONE = "+8613800138000"
MSISDN = "8613800138000"


class CountingDialogue:
    """Three screens: menu -> ID -> confirmation. Counts steps so retries can be proven idle.

    ``gate``: when set, ``resume`` waits on it (to hold a hop in flight).
    """

    def __init__(self) -> None:
        self.begins = 0
        self.resumes: list[str] = []
        self.gate: Deferred[None] | None = None
        self.entered: Deferred[None] | None = None

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None
    ) -> tuple[Session, Output]:
        self.begins += 1
        session = Session(menu=menu, version="t", node="main", lang=lang or "zh",
                          channel=channel, msisdn=msisdn)
        return session, Output((Say("欢迎"), Say("1 预约挂号")), Wait())

    async def resume(self, session: Session, inp: Input) -> tuple[Session, Output]:
        assert isinstance(inp, Digits)
        self.resumes.append(inp.value)
        if self.entered is not None:
            self.entered.callback(None)
            self.entered = None
        if self.gate is not None:
            await self.gate
        if session.node == "main":
            if inp.value == "boom":
                raise RuntimeError("engine bug")
            if inp.value != "1":
                return session, Output((Say("请选择 1"),), Wait())
            return session.evolve(node="id"), Output((Say("请输入身份证号"),),
                                                      Wait(18, 18, allow_star=True))
        vars_ = {**session.vars, "id": inp.value}
        done = session.evolve(node="done", vars=vars_, ended=True)
        return done, Output((Say("预约成功 ID " + inp.value[-4:]), SayDigits("0123456789")),
                            None)


@dataclass
class Server:
    url: str
    dialogue: Any
    store: UssdSessionStore
    clock: Clock
    resource: AtUssdResource
    port: Any = field(repr=False)

    async def post(self, data: dict[str, str] | None = None, **fields: str) -> tuple[int, str]:
        payload = {"sessionId": "s1", "serviceCode": "*125#", "phoneNumber": PHONE,
                   "networkCode": "46000", "text": ""}
        payload.update(data or {})
        payload.update(fields)
        resp = await treq.post(self.url, data=payload)
        return resp.code, await treq.text_content(resp, encoding="utf-8")


def listen(root: Resource, clock: Any = None, via: str = "port") -> Any:
    """Listen on 127.0.0.1:0; returns the listening port."""
    site = Site(root)
    factory: Any = site
    if via == "port":
        factory = GatewayHttpFactory(site, gateway_routes(root), clock=clock or reactor)
    return reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1")


async def start_server(dialogue: Any, redis: Any, via: str = "port", **kwargs: Any) -> Server:
    clock = Clock()
    store = UssdSessionStore(redis, keep_s=kwargs.pop("keep_s", 600))
    resource = AtUssdResource(dialogue, store, "booking", clock=clock, **kwargs)
    root = Resource()
    ussd = Resource()
    root.putChild(b"ussd", ussd)
    ussd.putChild(b"at", resource)
    port = listen(root, via=via)
    url = f"http://127.0.0.1:{port.getHost().port}/ussd/at"
    return Server(url, dialogue, store, clock, resource, port)
