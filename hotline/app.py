"""Wiring: build every component from Settings and start the listeners.

This is the only module that knows all packages. ``start()`` returns a ``Running`` handle whose
``stop()`` undoes everything in reverse order (listeners, SMPP bind, Redis connection, embedded
redis-server), so tests and ``hotline demo --once`` can start and stop a whole server in-process.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from booking.catalog import load_catalog
from booking.idcard import is_valid_resident_id
from booking.store import RedisBookingService
from hotline import ussd_wiring
from hotline.admin_api import install_booking
from hotline.effects import booking_dialogue
from hotline.httpport import GatewayHttpFactory
from hotline.metrics import CountingSite, Metrics, MetricsResource, register_gauges
from hotline.node import Node
from hotline.notify import load_templates
from hotline.readiness import ReadyGate
from hotline.redis_client import redacted_url
from hotline.settings import Settings
from hotline.sms_wiring import start_sms
from hotline.stopping import stop_all
from hotline.storage import open_redis
from hotline.web import build_root
from ivr.server import BACKLOG, FastAGIFactory
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue

log = Logger()

OnSms = Callable[[str, str, str], None]  # (to, from, text): what the SMSC simulator received

VALIDATORS = {"resident_id": is_valid_resident_id}


@dataclass
class Running:
    """Handles of a started server; ``stop()`` shuts down in reverse order of start."""

    settings: Settings
    booking: RedisBookingService
    dialogue: Dialogue
    http_port: int
    fastagi_port: int
    smsc_port: int | None
    redis_url: str
    _stoppers: list[Callable[[], Any]] = field(default_factory=list)
    node: Node = field(default_factory=Node)

    async def stop(self) -> None:
        await stop_all(self._stoppers, "app")


def load_static(settings: Settings) -> tuple[Any, MenuSource, dict[str, dict[str, str]]]:
    """Load and validate everything operators edit; raises with file:line before anything starts."""
    catalog = load_catalog(settings.hospital_file)
    menus = MenuSource({})
    for path in settings.menu_files:
        definition = load_menu(path)
        menus = MenuSource({**menus.definitions, definition.name: definition})
    templates = load_templates(settings.sms_templates)
    return catalog, menus, templates


async def start(
    settings: Settings,
    reactor: Any,
    *,
    on_sms: OnSms | None = None,
    clock: Any = None,
    node: Node | None = None,
    retry_clock: Any = None,
) -> Running:
    """Start everything. ``clock`` (default: the reactor) is booking's notion of now. ``node``
    (default: the main process, ``node.workers`` from settings) says which part runs here.
    ``retry_clock`` (default: the reactor) times the waits for a Redis not ready yet.

    The HTTP port is bound first and answers 503 (``/healthz``: starting, and why) until
    Redis takes writes and everything is wired (``hotline.readiness``)."""
    node = node or Node.main_for(settings)
    catalog, menus, templates = load_static(settings)
    stoppers: list[Callable[[], Any]] = []

    gate = ReadyGate()
    http: IListeningPort = node.listeners.listen(
        reactor, "http", settings.http_port, gate, settings.http_interface, 1024,
    )  # fmt: skip
    try:  # a worker: the main's URL
        redis, redis_url = await open_redis(settings, stoppers, clock=retry_clock or reactor,
                                            note=gate.note)
    except BaseException:
        await http.stopListening()
        await stop_all(stoppers, "app")
        raise

    booking = RedisBookingService(
        redis, catalog, clock=clock or reactor,
        listing_cache_s=float(settings.raw["booking"]["listing_cache_s"]),  # default 1 s
    )
    if node.main:  # the singletons: SMPP bind, hl:events -> SMS outbox, MO text commands
        sms = await start_sms(settings, reactor, redis, catalog, templates, on_sms=on_sms)
        stoppers.append(sms.stop)
        await sms.attach(booking, catalog)
    else:
        sms = node.worker_sms(settings, reactor, redis, booking, catalog, templates)
    sender, smsc_port = sms.sender, sms.smsc_port
    sms_help = sms.mo.send_help if sms.mo else None
    versions = ussd_wiring.menu_versions(settings, redis, menus)  # for dialogues moving nodes
    await versions.publish_all()
    versions.start(reactor)
    stoppers.append(versions.stop)
    dialogue = booking_dialogue(menus, booking, reactor, VALIDATORS, sms_help=sms_help,
                                fetch_version=versions.fetch)
    stoppers.append(node.reloading(menus, settings.menu_files, reactor,  # file watch + SIGHUP
                                   on_event=versions.on_reload))

    ussd = ussd_wiring.at_resource(settings, dialogue, redis, reactor)
    root = build_root(booking, redis.ping, ussd_at=ussd)
    ussd_wiring.mount(root, settings, dialogue, redis, reactor, stoppers)  # hubtel, SMPP USSD
    stoppers += install_booking(root, booking, settings, reactor, sweep=node.main)
    refresh = node.share_refresh(booking, reactor)  # admin share changes made in other processes
    if refresh is not None:
        stoppers.append(refresh)
    sms.mount_admin(root, settings)  # /api/admin/sms/{status,dead,message}
    metrics = Metrics()
    root.putChild(b"metrics", MetricsResource(metrics))
    site = CountingSite(root, metrics)  # gateway connections are served leanly, the rest by it
    port = GatewayHttpFactory(site, ussd_wiring.gateway_routes(root), clock=reactor,
                              count=metrics.count_http)
    stoppers.append(http.stopListening)

    transfer = settings.raw["ivr"]["transfer"]  # channel.transfer: EXEC Dial targets (docs/ivr.md)
    agi_factory = FastAGIFactory(
        dialogue,
        clock=reactor,
        default_menu=settings.default_menu,
        transfer_targets=transfer["targets"] or {},
        dial_timeout_s=int(transfer["dial_timeout_s"]),
    )
    agi: IListeningPort = node.listeners.listen(
        reactor, "fastagi", settings.fastagi_port, agi_factory,
        settings.fastagi_interface, BACKLOG,
    )  # fmt: skip
    stoppers.append(agi.stopListening)
    register_gauges(metrics, redis=redis, agi_factory=agi_factory, sender=sender)
    shared = node.share_metrics(metrics, reactor)  # a worker: its counts go to the main
    if shared is not None:
        stoppers.append(shared)
    gate.open(port)  # ready: new connections get the real port
    stoppers += node.start_workers(settings, reactor, redis_url, sender, metrics)  # stopped 1st

    running = Running(
        settings=settings,
        booking=booking,
        dialogue=dialogue,
        http_port=http.getHost().port,
        fastagi_port=agi.getHost().port,
        smsc_port=smsc_port,
        redis_url=redis_url,
        _stoppers=stoppers,
        node=node,
    )
    log.info(
        "hotline.started role={role} http={http} fastagi={agi} redis={redis} python={python}",
        role=node.role,
        http=running.http_port,
        agi=running.fastagi_port,
        redis=redacted_url(redis_url),
        # which interpreter build runs matters for CPU per request (docs/operations.md)
        python=f"{platform.python_version()} ({sys.base_prefix})",
    )
    return running

