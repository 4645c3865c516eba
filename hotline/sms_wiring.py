"""Wiring of the SMS side: one ``SmsService`` of the service tree (``hotline.app``).

``start_sms``: the SMPP sender (or, with ``sms.cmpp``, the CMPP sender) over the durable Redis
outbox, the reclaim loop, and the loopback SMSC simulator when no SMSC is configured (the ISMG
simulator with ``sms.cmpp.simulator``).  ``SmsService.attach(booking)``: the ``hl:events``
consumer that turns booking events into SMS and reminders (``notify.events``), and the MO text
commands (``notify.mo``). Stopping goes newest first: consumer, reclaim loop, sender, simulator.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger

import metrics
from booking.rules import day_label
from hotline.services import Listener, Ordered, every
from metrics import CountingOutbox
from notify.events import EventConsumer
from notify.mo import MoCommands
from notify.templates import Renderer
from settings.schema import Settings
from sms.cmpp.client import CmppConfig
from sms.cmpp.ismg import start_ismg
from sms.cmpp.service import CmppSender
from sms.mo import Keywords
from sms.redis_outbox import RedisOutbox
from sms.service import LinkSender, SmppSender
from sms.smsc import log_received, start_smsc
from web.admin import AdminTokens
from web.sms_admin import sms_admin_resource

log = Logger(namespace="hotline.sms")

OnSms = Callable[[str, str, str], None]


class EventsService(Service):
    """The ``hl:events`` consumer (booking events → SMS, reminders); ``started`` fires once
    its consumer group exists and it polls."""

    name = "events"

    def __init__(self, consumer: EventConsumer) -> None:
        self.consumer = consumer
        self.started: defer.Deferred[None] = defer.succeed(None)

    def startService(self) -> None:
        super().startService()
        self.started = defer.Deferred.fromCoroutine(self.consumer.start())

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()

        async def stop() -> None:
            with contextlib.suppress(Exception):  # a failed start was reported by the start
                await self.started
            await self.consumer.stop()

        return defer.Deferred.fromCoroutine(stop())


class SmsService(Ordered):
    """The SMS part of a node: sender, reclaim loop, simulator, events consumer, MO commands.
    A worker's has no children: its sender hands messages to the main process."""

    def __init__(self, sender: LinkSender, outbox: RedisOutbox, smsc_port: int | None,
                 options: Mapping[str, Any], redis: Any, reactor: Any, renderer: Renderer, *,
                 name: str = "sms-1") -> None:
        super().__init__("sms", clock=reactor)
        self.sender, self.outbox, self.smsc_port = sender, outbox, smsc_port
        self.options, self.redis, self.reactor, self.renderer = options, redis, reactor, renderer
        self.consumer_name = name  # this node's consumer name on hl:events (sender_name)
        self.events: EventConsumer | None = None
        self.mo: MoCommands | None = None

    async def attach(self, booking: Any, catalog: Any, link: Any = None) -> None:
        """Start consuming booking events and answering MO commands; ``link``: the QR page's
        link of a ``booked`` event (``web.ticket_links.ConfirmationLinks``), or None."""
        opts = self.options
        self.events = EventConsumer(
            self.redis, self.sender, self.renderer, self.reactor, catalog=catalog,
            consumer=str(opts.get("consumer") or self.consumer_name),
            reminder_hour=int(opts.get("reminder_hour", 18)),
            validity=opts.get("validity") or None, count=metrics.booking, link=link)
        await self.add(EventsService(self.events)).started
        self.mo = MoCommands(booking, self.sender, self.renderer, self.reactor,
                             keywords=Keywords.from_config(opts.get("mo_keywords")),
                             notice=self.events.message, count=metrics.booking)
        self.sender.on_message = self.mo.handle

    def mount_admin(self, root: Any, settings: Any) -> None:
        """``/api/admin/sms/...`` (``web.sms_admin``) behind the admin bearer token (the booking
        admin API, ``web.admin``, must be mounted first)."""
        admin = root.children[b"api"].children[b"admin"]
        admin.putChild(b"sms", sms_admin_resource(self.outbox, self.sender,
                                                  AdminTokens.from_settings(settings.raw["admin"])))


def start_sms(settings: Any, reactor: Any, redis: Any, catalog: Any,
              templates: Mapping[str, Mapping[str, str]], *,
              on_sms: OnSms | None = None) -> SmsService:
    """The main process's SMS part, not started yet (its parent starts it)."""
    raw = settings.raw.get("sms", {})
    lease_s = float(raw.get("lease_s", 300))
    name = sender_name(settings)
    outbox = RedisOutbox(redis, reactor, owner=name, lease_s=lease_s)
    simulator = _simulator(settings, reactor, on_sms or log_received)
    smsc_port = simulator.bind().getHost().port if simulator is not None else None
    try:  # the simulator is bound already: its port is the sender's address
        sender = _sender(settings, reactor, outbox, smsc_port)
    except BaseException:
        if simulator is not None:
            simulator.stopService()
        raise
    side = SmsService(sender, outbox, smsc_port, raw, redis, reactor,
                      Renderer(templates, catalog, day_label, signature=settings.sms_signature),
                      name=name)
    if simulator is not None:
        side.add(simulator)
    sender.setName("sender")
    side.add(sender)
    reclaim = every("reclaim", lease_s / 2, lambda: sender.reclaim().addErrback(  # another
        lambda f: log.warn("sms.reclaim_failed why={why}", why=f.getErrorMessage())),  # node's
        reactor)  # sender may have died mid-send
    side.add(reclaim)
    return side


def _simulator(settings: Any, reactor: Any, on_sms: OnSms) -> Listener | None:
    """The loopback SMSC (no ``sms.smpp``) or ISMG (``sms.cmpp.simulator``), or None."""
    cmpp = settings.cmpp
    if cmpp is not None:
        if not cmpp["simulator"]:
            return None
        return Listener("ismg", lambda: start_ismg(
            reactor, 0, on_message=on_sms, sp_id=cmpp["sp_id"],
            secret=str(cmpp["shared_secret"]), service_id=str(cmpp["service_id"])))
    if settings.smpp is not None:
        return None
    return Listener("smsc", lambda: start_smsc(reactor, 0, on_message=on_sms))


def _sender(settings: Any, reactor: Any, outbox: RedisOutbox,
            simulator_port: int | None) -> LinkSender:
    """The CMPP or SMPP sender, bound to the simulator when there is one."""
    raw = settings.raw.get("sms", {})
    tps = raw.get("tps")
    cmpp = settings.cmpp
    if cmpp is not None:
        host, port = str(cmpp["host"]), int(cmpp["port"])
        if simulator_port is not None:
            host, port = "127.0.0.1", simulator_port
        cmpp_tps = cmpp["tps"] or tps
        log.info("sms.cmpp ismg={host}:{port} sp_id={sp}", host=host, port=port,
                 sp=cmpp["sp_id"])
        return CmppSender(host, port, CmppConfig(
            str(cmpp["sp_id"]), str(cmpp["shared_secret"]), service_id=str(cmpp["service_id"]),
            src_id=str(cmpp["src_id"]), window=int(cmpp["window"]),
            tps=float(cmpp_tps) if cmpp_tps else None), reactor=reactor,
            outbox=CountingOutbox(outbox))  # type: ignore[arg-type]  # submits, receipts counted
    smpp = settings.smpp
    if smpp is None:
        smpp = {"host": "127.0.0.1", "port": simulator_port, "system_id": "hotline",
                "password": ""}
    return SmppSender(
        host=smpp["host"], port=int(smpp["port"]), system_id=str(smpp["system_id"]),
        password=str(smpp["password"]), system_type=str(smpp.get("system_type", "")),
        source_addr=settings.sms_source_addr, reactor=reactor,
        outbox=CountingOutbox(outbox),  # type: ignore[arg-type]  # submits, receipts counted
        window=int(raw.get("window", 10)), tps=float(tps) if tps else None,
        receipt_ids=str(raw.get("receipt_ids", "same")),
    )


def sender_name(settings: Settings) -> str:
    """Who takes messages from the shared outbox: stable across restarts of this node (so a
    restart takes back its own in-flight messages at once), distinct per node on one Redis."""
    return str(settings.raw.get("sms", {}).get("sender_name")
               or f"{socket.gethostname()}:{settings.http_port}")
