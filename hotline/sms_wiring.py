"""Wiring of the SMS side (kept out of ``hotline.app`` so that file stays small).

``start_sms``: the SMPP sender (or, with ``sms.cmpp``, the CMPP sender) over the durable Redis
outbox, and the loopback SMSC simulator when no SMSC is configured (the ISMG simulator with
``sms.cmpp.simulator``).  ``SmsSide.attach(booking)``: the ``hl:events`` consumer that turns
booking events into SMS (``notify.events``), and the MO text commands (``notify.mo``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from booking.rules import day_label
from hotline import metrics
from hotline.metrics import CountingOutbox
from hotline.settings import Settings
from hotline.stopping import stop_all
from notify.events import EventConsumer
from notify.mo import MoCommands
from notify.templates import Renderer
from sms.cmpp.client import CmppConfig
from sms.cmpp.ismg import start_ismg
from sms.cmpp.service import CmppSender
from sms.mo import Keywords
from sms.redis_outbox import RedisOutbox
from sms.service import LinkSender, SmppSender
from sms.smsc import start_smsc
from web.sms_admin import sms_admin_resource

log = Logger(namespace="hotline.sms")

OnSms = Callable[[str, str, str], None]


@dataclass
class SmsSide:
    sender: LinkSender
    outbox: RedisOutbox
    smsc_port: int | None
    options: Mapping[str, Any]
    redis: Any
    reactor: Any
    renderer: Renderer
    events: EventConsumer | None = None
    mo: MoCommands | None = None
    _stoppers: list[Callable[[], Any]] = field(default_factory=list)
    name: str = "sms-1"  # this node's consumer name on hl:events (sender_name by default)

    async def attach(self, booking: Any, catalog: Any) -> None:
        """Start consuming booking events and answering MO commands."""
        opts = self.options
        self.events = EventConsumer(
            self.redis, self.sender, self.renderer, self.reactor, catalog=catalog,
            consumer=str(opts.get("consumer") or self.name),
            reminder_hour=int(opts.get("reminder_hour", 18)),
            validity=opts.get("validity") or None, count=metrics.booking)
        await self.events.start()
        self._stoppers.append(self.events.stop)
        self.mo = MoCommands(booking, self.sender, self.renderer, self.reactor,
                             keywords=Keywords.from_config(opts.get("mo_keywords")),
                             notice=self.events.message, count=metrics.booking)
        self.sender.on_message = self.mo.handle

    def mount_admin(self, root: Any, settings: Any) -> None:
        """``/api/admin/sms/...`` (``web.sms_admin``) behind the admin bearer token (the booking
        admin API, ``web.admin``, must be mounted first)."""
        admin = root.children[b"api"].children[b"admin"]
        admin.putChild(b"sms", sms_admin_resource(self.outbox, self.sender,
                                                  settings.raw["admin"].get("token")))

    async def stop(self) -> None:
        await stop_all(self._stoppers, "sms")


async def start_sms(settings: Any, reactor: Any, redis: Any, catalog: Any,
                    templates: Mapping[str, Mapping[str, str]], *,
                    on_sms: OnSms | None = None) -> SmsSide:
    raw = settings.raw.get("sms", {})
    stoppers: list[Callable[[], Any]] = []
    lease_s = float(raw.get("lease_s", 300))
    name = sender_name(settings)
    outbox = RedisOutbox(redis, reactor, owner=name, lease_s=lease_s)
    tps = raw.get("tps")
    sender: LinkSender
    smsc_port: int | None = None
    cmpp = settings.cmpp
    if cmpp is not None:
        host, port = str(cmpp["host"]), int(cmpp["port"])
        if cmpp["simulator"]:
            ismg = start_ismg(reactor, 0, on_message=on_sms or _log_sms, sp_id=cmpp["sp_id"],
                              secret=str(cmpp["shared_secret"]),
                              service_id=str(cmpp["service_id"]))
            stoppers.append(ismg.stopListening)
            host, port = "127.0.0.1", ismg.getHost().port
            smsc_port = port
        cmpp_tps = cmpp["tps"] or tps
        sender = CmppSender(host, port, CmppConfig(
            str(cmpp["sp_id"]), str(cmpp["shared_secret"]), service_id=str(cmpp["service_id"]),
            src_id=str(cmpp["src_id"]), window=int(cmpp["window"]),
            tps=float(cmpp_tps) if cmpp_tps else None), reactor=reactor,
            outbox=CountingOutbox(outbox))  # type: ignore[arg-type]  # submits, receipts counted
        log.info("sms.cmpp ismg={host}:{port} sp_id={sp}", host=host, port=port,
                 sp=cmpp["sp_id"])
    else:
        smpp = settings.smpp
        if smpp is None:
            listener = start_smsc(reactor, 0, on_message=on_sms or _log_sms)
            stoppers.append(listener.stopListening)
            smsc_port = listener.getHost().port
            smpp = {"host": "127.0.0.1", "port": smsc_port, "system_id": "hotline",
                    "password": ""}
        sender = SmppSender(
            host=smpp["host"], port=int(smpp["port"]), system_id=str(smpp["system_id"]),
            password=str(smpp["password"]), system_type=str(smpp.get("system_type", "")),
            source_addr=settings.sms_source_addr, reactor=reactor,
            outbox=CountingOutbox(outbox),  # type: ignore[arg-type]  # submits, receipts counted
            window=int(raw.get("window", 10)), tps=float(tps) if tps else None,
            receipt_ids=str(raw.get("receipt_ids", "same")),
        )
    sender.startService()
    stoppers.append(sender.stopService)
    reclaim = LoopingCall(lambda: sender.reclaim().addErrback(
        lambda f: log.warn("sms.reclaim_failed why={why}", why=f.getErrorMessage())))
    reclaim.clock = reactor
    reclaim.start(lease_s / 2, now=False)  # another node's sender may have died mid-send
    stoppers.append(reclaim.stop)
    side = SmsSide(sender, outbox, smsc_port, raw, redis, reactor,
                   Renderer(templates, catalog, day_label), _stoppers=stoppers, name=name)
    return side


def sender_name(settings: Settings) -> str:
    """Who takes messages from the shared outbox: stable across restarts of this node (so a
    restart takes back its own in-flight messages at once), distinct per node on one Redis."""
    return str(settings.raw.get("sms", {}).get("sender_name")
               or f"{socket.gethostname()}:{settings.http_port}")


def _log_sms(to: str, source: str, text: str) -> None:
    log.info("smsc.received from={source} chars={n}", source=source, n=len(text))
