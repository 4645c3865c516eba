"""Hot reload of menu and hospital files: validate, then swap; a broken edit never takes the line
down.

``MenuReloader.poll()`` (a ``LoopingCall`` on the injected clock) hashes every menu file and its
includes; a changed file is loaded and inspected, and only a menu without errors is added to the
``MenuSource``. Sessions keep the version they started on (``MenuSource`` holds old versions, the
session stores the content hash), so a call in flight finishes on the old menu while new sessions
get the new one; ``ussd.menu_versions`` keeps every version in Redis too, so a USSD dialogue
served by another node, or by this one after a restart, also finishes on its version. A
rejected edit is logged with ``file:line:col`` and the running menu stays. SIGHUP forces a
reload of every file. ``PlatformReloader`` does the same for the hospitals' folder (or one
hospital's file): the whole platform is loaded and checked, then handed to booking and the SMS
renderer. ``ReloadService`` runs the watch and SIGHUP (of both, through ``Reloaders``) as a part
of the service tree.
"""

from __future__ import annotations

import hashlib
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from menus.definition import MenuDefinition, MenuError, MenuSource, load_menu
from menus.inspect import ERROR, inspect

log = Logger()

DEFAULT_INTERVAL_S = 2.0


@dataclass(frozen=True, slots=True)
class ReloadEvent:
    """What one reload attempt did: ``loaded`` a new version or ``rejected`` with ``errors``."""

    path: str
    outcome: str  # loaded | rejected | unchanged
    menu: str = ""
    version: str = ""
    errors: tuple[str, ...] = ()


def _fingerprint(files: Sequence[str | Path]) -> str:
    digest = hashlib.sha256()
    for name in files:
        try:
            digest.update(Path(name).read_bytes())
        except OSError as err:
            digest.update(f"unreadable {err.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


class _Polled:
    """``start`` calls ``poll`` every ``interval_s`` on ``clock``; ``stop`` ends it."""

    clock: Any
    interval_s: float
    _loop: LoopingCall | None
    loop_failed = "reload_loop_failed"  # the log line of a poll that raised

    def poll(self) -> object:
        raise NotImplementedError

    def start(self) -> None:
        self._loop = LoopingCall(self.poll)
        self._loop.clock = self.clock
        self._loop.start(self.interval_s, now=False).addErrback(
            lambda failure: log.failure(self.loop_failed, failure)
        )

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None


@dataclass
class MenuReloader(_Polled):
    """Watches menu files and swaps validated new versions into ``source``."""

    loop_failed = "menus.reload_loop_failed"

    source: MenuSource
    paths: Sequence[Path]
    clock: Any
    interval_s: float = DEFAULT_INTERVAL_S
    on_event: Callable[[ReloadEvent], None] | None = None
    _seen: dict[str, str] = field(default_factory=dict)  # path -> fingerprint of its files
    _files: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _loop: LoopingCall | None = None

    def __post_init__(self) -> None:
        for path in self.paths:
            key = str(path)
            current = next(
                (d for d in self.source.definitions.values() if d.filename == key), None
            )
            self._files[key] = current.files if current is not None else (key,)
            self._seen[key] = _fingerprint(self._files[key])

    def poll(self) -> list[ReloadEvent]:
        """Reload the files whose content (or an include's) changed since the last look."""
        events = []
        for path in self.paths:
            key = str(path)
            if _fingerprint(self._files[key]) != self._seen[key]:
                events.append(self.reload(path))
        return events

    def reload_all(self) -> list[ReloadEvent]:
        """Reload every file now (SIGHUP)."""
        return [self.reload(path) for path in self.paths]

    def reload(self, path: Path) -> ReloadEvent:
        key = str(path)
        self._seen[key] = _fingerprint(self._files[key])  # a broken edit is reported once
        try:
            definition = load_menu(path)
        except (MenuError, OSError) as exc:
            return self._emit(ReloadEvent(key, "rejected", errors=(str(exc),)))
        self._files[key] = definition.files
        self._seen[key] = _fingerprint(definition.files)
        problems = tuple(str(i) for i in inspect(definition) if i.severity == ERROR)
        if problems:
            return self._emit(ReloadEvent(key, "rejected", definition.name, errors=problems))
        return self._swap(key, definition)

    def _swap(self, key: str, definition: MenuDefinition) -> ReloadEvent:
        running = self.source.definitions.get(definition.name)
        if running is not None and running.version == definition.version:
            return ReloadEvent(key, "unchanged", definition.name, definition.version)
        self.source.add(definition)
        return self._emit(ReloadEvent(key, "loaded", definition.name, definition.version))

    def _emit(self, event: ReloadEvent) -> ReloadEvent:
        if event.outcome == "loaded":
            log.info(
                "menus.reloaded menu={menu} version={version} file={file}",
                menu=event.menu,
                version=event.version,
                file=event.path,
            )
        else:
            for error in event.errors:
                log.error("menus.reload_rejected {error}; the running menu stays", error=error)
        if self.on_event is not None:
            self.on_event(event)
        return event



def install_sighup(reactor: Any, reloader: MenuReloader) -> Callable[[], None]:
    """SIGHUP → ``reloader.reload_all()`` in the reactor thread; returns an uninstaller."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals can only be set from the main thread

    def on_signal(signum: int, frame: object) -> None:
        reactor.callFromThread(reloader.reload_all)

    previous = signal.signal(signal.SIGHUP, on_signal)
    return lambda: signal.signal(signal.SIGHUP, previous)


class ReloadService(Service):
    """Menu hot reload as a part of the service tree: the file watch (unless ``watch`` is false:
    a worker reloads when the main process tells it) and SIGHUP, both undone at stop."""

    name = "menu-reload"

    def __init__(self, reloader: MenuReloader, reactor: Any, *, watch: bool = True,
                 on_sighup: Any = None) -> None:
        self.reloader = reloader
        self.reactor = reactor
        self.watch = watch
        self.on_sighup = on_sighup or reloader  # has reload_all()
        self._uninstall: Callable[[], Any] | None = None

    def startService(self) -> None:
        super().startService()
        if self.watch:
            self.reloader.start()
        self._uninstall = install_sighup(self.reactor, self.on_sighup)

    def stopService(self) -> None:
        super().stopService()
        self.reloader.stop()
        if self._uninstall is not None:
            self._uninstall()
            self._uninstall = None


# ---- the hospitals: a changed folder (or file) is re-read on the same triggers ----------------


def catalog_files(path: Path) -> tuple[Path, ...]:
    """The files a catalog path stands for: a folder's ``*.yaml`` (in name order), or the file."""
    if path.is_dir():
        return tuple(sorted(path.glob("*.yaml")))
    return (path,)


def _catalog_fingerprint(path: Path) -> str:
    """Names and contents: a hospital file added, removed or edited changes it."""
    files = catalog_files(path)
    return _fingerprint([str(f) for f in files]) + "|" + "\0".join(f.name for f in files)


@dataclass
class PlatformReloader(_Polled):
    """Watches the hospitals' folder (or one hospital's file) and hands a platform that loads
    without error to every ``swap`` (booking, the SMS renderer, …). A broken file is logged
    with ``file:line`` and refused; the running platform stays. A hospital missing from the
    new platform stops taking bookings (booking's ``swap``); its bookings stay valid."""

    loop_failed = "catalog.reload_loop_failed"

    path: Path
    load: Callable[[Path], Any]  # booking.catalog.load_platform
    swap: Sequence[Callable[[Any], Any]]
    clock: Any
    platform: Any  # the running platform
    interval_s: float = DEFAULT_INTERVAL_S
    on_event: Callable[[ReloadEvent], None] | None = None
    error_types: tuple[type[BaseException], ...] = (ValueError, OSError)
    _seen: str = ""
    _loop: LoopingCall | None = None

    def __post_init__(self) -> None:
        self._seen = _catalog_fingerprint(self.path)

    def poll(self) -> list[ReloadEvent]:
        if _catalog_fingerprint(self.path) == self._seen:
            return []
        return [self.reload()]

    def reload_all(self) -> list[ReloadEvent]:
        return [self.reload()]

    def reload(self) -> ReloadEvent:
        key = str(self.path)
        self._seen = _catalog_fingerprint(self.path)  # a broken edit is reported once
        try:
            platform = self.load(self.path)
        except self.error_types as exc:
            return self._emit(ReloadEvent(key, "rejected", "hospitals", errors=(str(exc),)))
        ids = [h.id for h in platform.hospitals]
        if platform == self.platform:
            return ReloadEvent(key, "unchanged", "hospitals", ",".join(ids))
        before = {h.id for h in self.platform.hospitals}
        try:
            for swap in self.swap:  # booking first: if it cannot, nothing else changes
                swap(platform)
        except Exception as exc:
            return self._emit(ReloadEvent(key, "rejected", "hospitals", errors=(str(exc),)))
        self.platform = platform
        log.info("catalog.reloaded hospitals={n} added={added} removed={removed} path={path}",
                 n=len(ids), added=",".join(i for i in ids if i not in before) or "-",
                 removed=",".join(sorted(before - set(ids))) or "-", path=key)
        return self._emit(ReloadEvent(key, "loaded", "hospitals", ",".join(ids)))

    def _emit(self, event: ReloadEvent) -> ReloadEvent:
        for error in event.errors:
            log.error("catalog.reload_rejected {error}; the running hospitals stay", error=error)
        if self.on_event is not None:
            self.on_event(event)
        return event



@dataclass
class Reloaders:
    """Several reloaders on one file watch and one SIGHUP (menus and hospitals)."""

    parts: Sequence[Any]

    def poll(self) -> list[ReloadEvent]:
        return [event for part in self.parts for event in part.poll()]

    def reload_all(self) -> list[ReloadEvent]:
        return [event for part in self.parts for event in part.reload_all()]

    def start(self) -> None:
        for part in self.parts:
            part.start()

    def stop(self) -> None:
        for part in self.parts:
            part.stop()
