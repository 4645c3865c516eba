"""The console's menu desk: check, upload, activate, and the phone simulator on a sandbox.

- **Check**: ``menudesk.check.check_one``, the code of ``hotline menus check``, on the
  configured menu files, or on an upload's bytes read as the file it would replace (its
  ``include:`` files resolve there; its lines are the upload's lines).
- **Pending**: one upload waits in Redis (``hl:console:menus:pending``) until an admin
  activates or discards it; every node of the platform sees the same one.
- **Activate**: what an operator's edit of the file does. The pending bytes are written over
  the configured menu file atomically (a temporary file in its folder, then a rename) and the
  menu reload runs at once (``hotreload.reloaders``, as SIGHUP does): the new version serves
  dialogues that begin from then on, a dialogue in flight keeps the version it began on.
- **Simulator**: the real ``Dialogue`` and effects runner (``dialogue.effects``) over
  ``booking.testing.MemoryBookingService`` on a platform of that one hospital's catalog: a walk
  books in memory and never touches the hospital's Redis data, sends no SMS. A walk is kept
  per console login and hospital: its channel, language and inputs in Redis
  (``hl:console:sim:<digest of the login>:<hospital>``, dropped SIM_TTL_S after its last
  input), the running walk in this process (at most SIM_MAX, the least recently used go first).
  A process that lacks it (another process of the node, or after a restart) rebuilds it by
  replaying the inputs on a new sandbox: the same screens, though a T-code drawn again differs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from booking import MemoryBookingService, Platform
from dialogue.effects import booking_dialogue
from menudesk.check import check_one
from menudesk.render import render
from menus.definition import MenuDefinition, MenuSource, load_menu, load_menu_bytes
from menus.driver import ChannelEffects, Dialogue
from menus.inspect import edges
from menus.types import Digits, Effect, EffectResult, NoInput, Output, Say, Session
from ussd.paging import BACK_KEY, NEXT_KEY, ScreenLimits, paginate
from ussd.render import screen_lines
from web.console.menus import (
    MAX_MENU_BYTES,
    SIM_CHANNELS,
    CheckReport,
    DeskError,
    Outline,
    Pending,
    SimView,
)

PENDING_KEY = "hl:console:menus:pending"
SIM_TTL_S = 1800.0  # a walk left alone this long is dropped
SIM_MAX = 200  # walks kept in one process; the oldest goes first
SIM_MSISDN = "8613900000000"  # the sandbox caller (the sandbox has no other)
MAX_TURNS = 300  # inputs in one walk


@dataclass
class _Walk:
    view: Any  # SimView
    dialogue: Dialogue
    booking: MemoryBookingService
    session: Session
    pages: tuple[str, ...]
    touched: float
    effects: ChannelEffects | None = None
    keys: list[str] = field(default_factory=list)  # every input so far (the replay)


class MenuDesk:
    """The menus the server runs (``source``, loaded from ``paths``) as the console sees them."""

    def __init__(self, source: MenuSource, paths: list[Path], *, redis: Any, clock: Any,
                 platform: Callable[[], Platform], validators: Mapping[str, Any],
                 reload: Callable[[], Any], limits: ScreenLimits | None = None) -> None:
        self.source, self.paths = source, [Path(p) for p in paths]
        self.redis, self.clock, self.platform = redis, clock, platform
        self.validators, self.reload = validators, reload
        self.limits = limits or ScreenLimits()
        self.walks: OrderedDict[tuple[str, str], _Walk] = OrderedDict()

    # ---------------------------------------------------------------- running menus

    def outlines(self) -> list[Outline]:
        out = []
        for definition in self.source.definitions.values():
            folder = str(Path(definition.filename).parent) + os.sep
            by_node: dict[str, list[tuple[str, str]]] = {}
            for nid, target, why in edges(definition):
                by_node.setdefault(nid, []).append((why, target))
            nodes = tuple(
                {"id": nid, "kind": type(node).__name__.removesuffix("Node").lower(),
                 "where": _short(definition.positions.get(nid, ""), folder),
                 "text": _first_text(node),
                 "effect": getattr(node, "effect", None) or "",
                 "edges": by_node.get(nid, [])}
                for nid, node in definition.nodes.items())
            out.append(Outline(definition.name, definition.version, definition.filename,
                               definition.start, nodes))
        return out

    def check_running(self) -> list[CheckReport]:
        """``hotline menus check`` of every configured menu file, as it is on disk now."""
        return [self._check(path, lambda p=path: load_menu(p)) for path in self.paths]

    def _check(self, path: Path, load: Callable[[], MenuDefinition]) -> CheckReport:
        out = io.StringIO()
        errors, warnings, definition = check_one(path, load, out=out)
        lines = tuple(line for line in out.getvalue().splitlines() if line)
        if definition is None:
            return CheckReport(str(path), lines, errors, warnings)
        return CheckReport(str(path), lines, errors, warnings, definition.name,
                           definition.version)

    # ---------------------------------------------------------------- upload and activate

    def _target(self, data: bytes) -> Path:
        """The configured file an upload replaces: the one running the menu of its name."""
        if len(self.paths) == 1:
            return self.paths[0]
        try:
            name = load_menu_bytes(data, str(self.paths[0])).name
        except Exception:
            return self.paths[0]  # it does not load: the check says why
        for path in self.paths:
            running = next((d for d in self.source.definitions.values()
                            if d.filename == str(path)), None)
            if running is not None and running.name == name:
                return path
        return self.paths[0]

    async def upload(self, data: bytes, by: str) -> tuple[CheckReport, Pending | None]:
        """Check an uploaded menu; one without errors becomes the pending version."""
        if len(data) > MAX_MENU_BYTES:
            raise DeskError("文件太大", "The file is too large")
        target = self._target(data)
        report = self._check(target, lambda: load_menu_bytes(data, str(target)))
        if not report.ok:
            return report, None
        running = next((d for d in self.source.definitions.values()
                        if d.filename == str(target)), None)
        if running is None or running.name != report.name:
            names = ", ".join(sorted(self.source.definitions))
            line = (f"{target}: error: the menu is named {report.name!r}; the file runs "
                    f"{running.name if running else '-'!r} (menus running: {names})")
            return CheckReport(report.path, (*report.lines, line), report.errors + 1,
                               report.warnings, report.name, report.version), None
        pending = Pending(report.name, str(target), report.version, running.version, by,
                          self.clock.seconds())
        await self.redis.hmset(PENDING_KEY, {
            "name": pending.name, "path": pending.path, "version": pending.version,
            "running": pending.running, "by": by, "at": repr(pending.at),
            "data": data.decode("utf-8")})  # the loader has checked it is UTF-8
        return report, pending

    async def _pending_raw(self) -> dict[str, str]:
        return await self.redis.hgetall(PENDING_KEY) or {}

    async def pending(self) -> Pending | None:
        raw = await self._pending_raw()
        if not raw.get("version"):
            return None
        return Pending(raw["name"], raw["path"], raw["version"], raw.get("running", ""),
                       raw.get("by", ""), float(raw.get("at", 0)))

    async def pending_definition(self) -> MenuDefinition | None:
        raw = await self._pending_raw()
        if not raw.get("data"):
            return None
        try:
            return load_menu_bytes(raw["data"].encode("utf-8"), raw["path"])
        except Exception:
            return None  # an include changed since the upload: upload again

    async def discard(self) -> None:
        await self.redis.delete(PENDING_KEY)

    async def activate(self, by: str) -> tuple[str, str, str]:
        """Put the pending version in force; returns (menu, version before, version after)."""
        raw = await self._pending_raw()
        if not raw.get("data"):
            raise DeskError("没有待启用的菜单", "No menu is pending")
        data = raw["data"].encode("utf-8")
        target = Path(raw["path"])
        if target not in self.paths:
            raise DeskError("待启用的菜单不属于本服务器", "The pending menu is not one of ours")
        report = self._check(target, lambda: load_menu_bytes(data, str(target)))
        if not report.ok or report.version != raw["version"]:
            raise DeskError("待启用的菜单已不能通过检查，请重新上传",
                            "The pending menu no longer passes the check: upload it again")
        before = self.source.get(report.name).version
        _write_atomically(target, data)
        self.reload()
        after = self.source.get(report.name).version
        if after != report.version:
            raise DeskError("菜单重新加载未成功，运行中的版本未变（见服务器日志）",
                            "The reload did not take the menu; the running version stays "
                            "(see the server log)")
        await self.discard()
        return report.name, before, after

    # ---------------------------------------------------------------- the simulator

    def _expire(self) -> None:
        now = self.clock.seconds()
        for key in [k for k, w in self.walks.items() if w.touched + SIM_TTL_S <= now]:
            del self.walks[key]

    async def sim_view(self, key: str, hospital: str) -> SimView | None:
        walk = await self._walk(key, hospital)
        return walk.view if walk is not None else None

    async def sim_end(self, key: str, hospital: str) -> None:
        self.walks.pop((key, hospital), None)
        await self.redis.delete(_walk_key(key, hospital))

    async def _walk(self, key: str, hospital: str) -> _Walk | None:
        """The walk of this login at this hospital: this process's, or rebuilt from its keys in
        Redis (another process of the node served it before)."""
        self._expire()
        walk = self.walks.get((key, hospital))
        if walk is not None:
            return walk
        raw = await self.redis.get(_walk_key(key, hospital))
        if not raw:
            return None
        recipe = json.loads(raw)
        if float(recipe.get("at", 0)) + SIM_TTL_S <= self.clock.seconds():
            return None  # left alone too long (Redis drops the key by its own clock too)
        try:
            walk = await self._begin(key, hospital, recipe["channel"], recipe["which"],
                                     recipe["lang"])
            if walk.view.version != recipe.get("version"):
                self.walks.pop((key, hospital), None)
                return None  # the menu changed since: a walk is on one version, start again
            for keys in recipe["keys"]:
                await self._apply(walk, keys)
            walk.touched = float(recipe["at"])
        except DeskError:
            return None  # the pending menu went away meanwhile
        return walk

    async def sim_start(self, key: str, hospital: str, channel: str, which: str,
                        lang: str) -> SimView:
        walk = await self._begin(key, hospital, channel, which, lang)
        await self._save(key, hospital, walk)
        return walk.view

    async def _begin(self, key: str, hospital: str, channel: str, which: str,
                     lang: str) -> _Walk:
        if channel not in SIM_CHANNELS:
            raise DeskError("没有这个渠道", "No such channel")
        live = self.platform()
        config = live.hospital(hospital)
        if config is None:
            raise DeskError("没有这家医院", "No such hospital")
        if which == "pending":
            pending = await self.pending_definition()
            if pending is None:
                raise DeskError("没有待启用的菜单", "No menu is pending")
            source, name = MenuSource([pending]), pending.name
        else:
            source, which = self.source, "running"
            name = self._default_menu(source)
        sandbox = MemoryBookingService(Platform((config,), live.limits, live.name), self.clock)
        dialogue = booking_dialogue(source, sandbox, self.clock, self.validators)
        definition = source.get(name)
        lang = lang if lang in definition.languages else definition.languages[0]
        view = SimView(channel, which, name, definition.version, lang)
        walk = _Walk(view, dialogue, sandbox, None, (), self.clock.seconds())  # type: ignore[arg-type]
        if channel == "ivr":
            walk.effects = _transfer_effects(walk)
        session, output = await dialogue.begin(name, channel=channel, msisdn=SIM_MSISDN,
                                               lang=lang, channel_effects=walk.effects)
        self._show(walk, session, output)
        self.walks[(key, hospital)] = walk
        self.walks.move_to_end((key, hospital))
        while len(self.walks) > SIM_MAX:
            self.walks.popitem(last=False)
        return walk

    async def _save(self, key: str, hospital: str, walk: _Walk) -> None:
        view = walk.view
        recipe = {"channel": view.channel, "which": view.which, "lang": view.lang,
                  "version": view.version, "keys": walk.keys, "at": walk.touched}
        await self.redis.set(_walk_key(key, hospital), json.dumps(recipe),
                             expire=int(SIM_TTL_S))

    def _default_menu(self, source: MenuSource) -> str:
        first = next((d for d in source.definitions.values()
                      if self.paths and d.filename == str(self.paths[0])), None)
        return (first or next(iter(source.definitions.values()))).name

    async def sim_input(self, key: str, hospital: str, keys: str) -> SimView:
        walk = await self._walk(key, hospital)
        if walk is None:
            raise DeskError("模拟已结束或已过期，请重新开始",
                            "The walk has ended or expired: start again")
        keys = keys.strip()
        if walk.view.ends:
            raise DeskError("通话已结束，请重新开始", "The dialogue has ended: start again")
        if len(keys) > 32 or any(k not in "0123456789*#" for k in keys):
            raise DeskError("只能输入数字、* 和 #", "Keys are digits, * and #")
        if len(walk.keys) >= MAX_TURNS:
            raise DeskError("按键太多，请重新开始", "Too many keys: start again")
        walk.touched = self.clock.seconds()
        self.walks.move_to_end((key, hospital))
        await self._apply(walk, keys)
        await self._save(key, hospital, walk)
        return walk.view

    async def _apply(self, walk: _Walk, keys: str) -> None:
        """One input of the walk: a page of the screen (98, 00) or the menu's next step."""
        view = walk.view
        walk.keys.append(keys)
        if view.channel == "ussd" and keys == NEXT_KEY and view.page + 1 < len(walk.pages):
            view.page += 1  # the gateway's paging: the menu never sees 98 and 00
            view.screen = walk.pages[view.page]
            return
        if view.channel == "ussd" and keys == BACK_KEY and view.page > 0:
            view.page -= 1
            view.screen = walk.pages[view.page]
            return
        view.transcript.append(("caller", keys or "(no input)"))
        inp = Digits(keys.rstrip("#") if view.channel == "ivr" else keys) if keys else NoInput()
        session, output = await walk.dialogue.resume(walk.session, inp,
                                                     channel_effects=walk.effects)
        self._show(walk, session, output)

    def _show(self, walk: _Walk, session: Session, output: Output) -> None:
        view = walk.view
        walk.session = session
        view.ends = output.ends
        if view.channel == "ussd":
            walk.pages = paginate(screen_lines(output), self.limits, session.lang,
                                  ends=output.ends)
            view.page, view.pages, view.screen = 0, len(walk.pages), walk.pages[0]
            view.transcript.append(("menu", output.text()))
        else:
            view.transcript.append(("menu", render(output, "ivr", session.lang).rstrip()))
            view.max_keys = output.wait.max_digits if output.wait is not None else 0


def _transfer_effects(walk: _Walk) -> ChannelEffects:
    """A call's channel effects in the simulator: what is said before a transfer is shown, the
    transfer itself is not dialled (the menu takes its "no answer" way)."""

    async def run(effect: Effect, session: Session) -> EffectResult:
        said = [p.text for p in session.pending if isinstance(p, Say)]
        if said:
            walk.view.transcript.append(("menu", "\n".join(f"  say: {t}" for t in said)))
        walk.view.transcript.append(
            ("menu", f"  [{effect.name} {json.dumps(effect.args, ensure_ascii=False)}: "
                     "not dialled in the simulator]"))
        return EffectResult(ok=False, error="noanswer")

    return run


def _walk_key(key: str, hospital: str) -> str:
    return f"hl:console:sim:{key}:{hospital}"


def _short(where: str, folder: str) -> str:
    """``file:line:col`` with the file named from the menu's folder (``parts/common.yaml``)."""
    return where[len(folder):] if where.startswith(folder) else where


def _first_text(node: Any) -> str:
    text = getattr(node, "text", None)
    if isinstance(text, Mapping):
        value = text.get("zh") or next(iter(text.values()), None)
        source = str(getattr(value, "source", value or "")).strip()
        return source.splitlines()[0][:60] if source else ""
    return ""


def _write_atomically(target: Path, data: bytes) -> None:
    """``data`` becomes ``target`` in one rename: a reader (the file watch of every process)
    sees the old file or the new one, never half of it."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".upload", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # keep the file's mode
            os.chmod(tmp, target.stat().st_mode & 0o777)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

