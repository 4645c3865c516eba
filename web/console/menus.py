"""The console's menu pages: the running menus' outline and check, uploading and activating a
menu, and the phone simulator.

The pages only show and ask; the work is done by a ``MenuDesk`` the server wires in
(``menudesk.desk``: the same check as ``hotline menus check``, the reload of the menu file,
and the real engine on a sandbox of a hospital). Reading the menus is for platform staff;
uploading and activating for platform admins; the simulator for anyone of the hospital, on a
sandbox that never touches the hospital's bookings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol

SIM_CHANNELS = ("ussd", "ivr")
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
MAX_MENU_BYTES = 262144  # far above any menu: a larger upload is refused before it is parsed


class DeskError(Exception):
    """A request the desk refuses, with the reason in both languages."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True, slots=True)
class CheckReport:
    """``hotline menus check`` of one menu: its lines (``file:line:col: error|warning: …``)."""

    path: str
    lines: tuple[str, ...]
    errors: int
    warnings: int
    name: str = ""
    version: str = ""

    @property
    def ok(self) -> bool:
        return self.errors == 0 and bool(self.version)


@dataclass(frozen=True, slots=True)
class Outline:
    """A menu as the page draws it: nodes in file order, each with its edges."""

    name: str
    version: str
    filename: str
    start: str
    nodes: tuple[dict[str, Any], ...]  # {id, kind, where, text, edges: [(cause, target)]}


@dataclass(frozen=True, slots=True)
class Pending:
    """An uploaded menu waiting for activation."""

    name: str
    path: str  # the menu file it will replace
    version: str
    running: str  # the version running when it was uploaded
    by: str
    at: float


@dataclass
class SimView:
    """What the simulator page shows of one walk."""

    channel: str
    which: str  # "running" or "pending"
    menu: str
    version: str
    lang: str
    screen: str = ""  # USSD: the page on the handset
    page: int = 0
    pages: int = 1
    ends: bool = False
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (who, text)
    max_keys: int = 0  # IVR: keys the call waits for (0: none)


class MenuDesk(Protocol):
    def outlines(self) -> list[Outline]: ...

    def check_running(self) -> list[CheckReport]: ...

    async def upload(self, data: bytes, by: str) -> tuple[CheckReport, Pending | None]: ...

    async def pending(self) -> Pending | None: ...

    async def discard(self) -> None: ...

    async def activate(self, by: str) -> tuple[str, str, str]: ...

    async def sim_start(self, key: str, hospital: str, channel: str, which: str,
                        lang: str) -> SimView: ...

    async def sim_input(self, key: str, hospital: str, keys: str) -> SimView: ...

    async def sim_view(self, key: str, hospital: str) -> SimView | None: ...

    async def sim_end(self, key: str, hospital: str) -> None: ...


def walk_key(token: str) -> str:
    """A console login's walks are kept under a digest of its cookie, never the cookie."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()[:32]
