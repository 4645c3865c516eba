"""Which part of a node this process runs: ``main`` (everything) or ``worker`` (the channels).

With ``node.workers: N`` (docs/operations.md) the main process runs N-1 workers next to itself.
Every process serves HTTP (USSD, kiosk, admin, health) and FastAGI on the same shared sockets
(``node.sharedport``); only the main process runs the singletons: the SMPP bind and its
outbox sender, the ``hl:events`` consumer, MO commands, the booking sweeper, an embedded
redis-server and the SMSC simulator. ``hotline.app.start`` asks this object at each fork in the
wiring (each answer a part of the service tree, or None); with ``workers: 1`` every answer is
what ``start`` did before workers existed.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer

from booking.rules import day_label
from hotline.services import Looping, every
from hotline.sms_wiring import SmsService
from hotreload.reloaders import (
    MenuReloader,
    PlatformReloader,
    Reloaders,
    ReloadEvent,
    ReloadService,
)
from menus.definition import MenuSource
from node.link import MainLink, Message, RemoteSender
from node.sharedport import InheritedListeners, OwnListeners, SharingListeners
from node.workers import Supervisor
from notify.mo import MoCommands
from notify.templates import Renderer
from settings.schema import Settings
from sms.mo import Keywords
from sms.redis_outbox import RedisOutbox

WORKER_ARGV = [sys.executable, "-m", "hotline.worker"]  # a worker boots this composition root
SHARES_REFRESH_S = 5.0  # an admin's share change reaches the other processes within this
Listeners = OwnListeners | SharingListeners | InheritedListeners


@dataclass
class Node:
    role: str = "main"  # main | worker
    workers: int = 1  # processes of the node, the main one included (main only)
    listeners: Listeners = field(default_factory=OwnListeners)
    link: MainLink | None = None  # worker: the pipe pair to the main process
    log_level: str = "info"  # main: what the workers log at
    supervisor: Supervisor | None = None

    @classmethod
    def main_for(cls, settings: Settings, *, log_level: str = "info") -> Node:
        count = settings.workers
        listeners: Listeners = SharingListeners() if count > 1 else OwnListeners()
        return cls("main", count, listeners, log_level=log_level)

    @classmethod
    def worker(cls, link: MainLink, fds: dict[str, int]) -> Node:
        return cls("worker", listeners=InheritedListeners(fds), link=link)

    @property
    def main(self) -> bool:
        return self.role == "main"

    @property
    def alone(self) -> bool:
        """A single-process node: behave exactly as before workers existed."""
        return self.main and self.workers == 1

    def forward(self, message: Message) -> None:
        if self.supervisor is not None:
            self.supervisor.broadcast(message)

    def reloading(
        self, menus: MenuSource, paths: Sequence[Path], reactor: Any,
        on_event: Callable[[ReloadEvent], None] | None = None,
        hospitals: PlatformReloader | None = None,
    ) -> ReloadService:
        """Menu (and ``hospitals``: the catalog) hot reload. The main process watches the files
        (and SIGHUP) and tells the workers to reload what it loaded; a worker reloads when told
        (or on its own SIGHUP). ``on_event`` hears every menu reload of this process
        (``ussd.menu_versions``)."""
        extra = [hospitals] if hospitals is not None else []
        if self.alone:
            menu = MenuReloader(menus, list(paths), reactor, on_event=on_event)
            return ReloadService(Reloaders([menu, *extra]), reactor)  # type: ignore[arg-type]

        def loaded(event: ReloadEvent) -> None:
            if on_event is not None:
                on_event(event)
            if event.outcome == "loaded" and self.main:
                self.forward({"op": "reload"})

        def hospitals_loaded(event: ReloadEvent) -> None:
            if event.outcome == "loaded" and self.main:
                self.forward({"op": "reload"})

        if hospitals is not None:
            hospitals.on_event = hospitals_loaded
        reloader = Reloaders([MenuReloader(menus, list(paths), reactor, on_event=loaded), *extra])
        if not self.main and self.link is not None:
            self.link.on("reload", lambda _: reloader.reload_all())
        return ReloadService(reloader, reactor, watch=self.main,  # type: ignore[arg-type]
                             on_sighup=_ReloadAll(reloader, self))

    def worker_sms(self, settings: Settings, reactor: Any, redis: Any, booking: Any,
                   catalog: Any, templates: Any) -> SmsService:
        """A worker's SMS side: no bind and no consumer; its messages (the menus' ``$sms``
        help) go to the main process's sender, and the admin SMS API reads the shared outbox."""
        assert self.link is not None
        raw = settings.raw.get("sms", {})
        sender = RemoteSender(self.link)
        side = SmsService(sender, RedisOutbox(redis, reactor), None, raw, redis,  # type: ignore[arg-type]
                          reactor, Renderer(templates, catalog, day_label,
                                            signature=settings.sms_signature))
        side.mo = MoCommands(booking, sender, side.renderer, reactor,
                             keywords=Keywords.from_config(raw.get("mo_keywords")))
        return side

    def share_refresh(self, booking: Any, reactor: Any) -> Looping | None:
        """Several processes each hold the admin's remote shares in memory: re-read them."""
        if self.alone:
            return None
        return every("shares-refresh", SHARES_REFRESH_S, booking.refresh_shares, reactor)

    def start_workers(self, settings: Settings, reactor: Any, redis_url: str,
                      sender: Any) -> WorkersService | None:
        """Main process of several: the workers on the shared sockets, as a service."""
        if not self.main or self.workers == 1:
            return None
        assert isinstance(self.listeners, SharingListeners)
        raw = dict(settings.raw)
        if settings.redis_sentinel is None:  # an embedded server's URL is only known now
            raw["redis"] = {**raw["redis"], "url": redis_url}
        raw["ussd"] = {**raw["ussd"], "smpp": None}  # the USSD bind is the main's alone
        boot = {"settings": raw, "base_dir": str(settings.base_dir), "log_level": self.log_level}
        self.supervisor = Supervisor(reactor, self.workers - 1, boot, self.listeners.fds(),
                                     sender=sender, argv=WORKER_ARGV)
        return WorkersService(self.supervisor, self.listeners)


class WorkersService(Service):
    """The worker processes: spawned at start; at stop, stopped and then the main's copies of
    the shared sockets closed (a socket lives while one process holds it)."""

    name = "workers"

    def __init__(self, supervisor: Supervisor, listeners: SharingListeners) -> None:
        self.supervisor = supervisor
        self.listeners = listeners

    def startService(self) -> None:
        super().startService()
        self.supervisor.start()

    def stopService(self) -> defer.Deferred[None]:
        super().stopService()

        async def stop() -> None:
            try:
                await self.supervisor.stop()
            finally:
                self.listeners.close()

        return defer.Deferred.fromCoroutine(stop())


@dataclass
class _ReloadAll:
    """SIGHUP: reload here, and (main process) in every worker."""

    reloader: Reloaders
    node: Node

    def reload_all(self) -> list[ReloadEvent]:
        events = self.reloader.reload_all()
        if self.node.main:
            self.node.forward({"op": "reload"})
        return events
