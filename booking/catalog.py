"""The hospital catalog (config/hospital.yaml): departments, sessions, places, remote share.

Loaded once at start-up into frozen values. A mistake in the file stops start-up with a
``CatalogError`` that names ``file:line`` and the problem, because a silently wrong quota would
sell places the hospital does not have.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from booking.policy import DEFAULT_POLICY, Policy, parse_hhmm
from booking.policy_yaml import POLICY_KEYS, parse_policy

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_DAYS_AHEAD = 7
DEFAULT_REMOTE_SHARE = 0.8
DEFAULT_FEE = 500  # fen: what a payment callback must carry for a booking (``fee``)
LANGS = ("zh", "en")
# Ids end up inside Redis hash tags {dept:day:session}: no braces, colons or spaces.
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class CatalogError(ValueError):
    """The catalog file is unreadable or holds a bad value; the message starts with file:line."""


@dataclass(frozen=True, slots=True)
class SessionTemplate:
    id: str  # "am" | "pm"
    label: Mapping[str, str]  # {"zh": "上午", "en": "morning"}
    places: int  # all places of the session, on-site and remote together
    start: dt.time = dt.time(8, 0)  # clinic opens (cut-offs and the check-in window use it)
    end: dt.time = dt.time(12, 0)


@dataclass(frozen=True, slots=True)
class DepartmentConfig:
    id: str
    name: Mapping[str, str]
    remote_share: float
    sessions: tuple[SessionTemplate, ...]
    fee: int = DEFAULT_FEE  # fen; a payment of another amount is refused

    def session(self, session_id: str) -> SessionTemplate | None:
        return next((s for s in self.sessions if s.id == session_id), None)


@dataclass(frozen=True, slots=True)
class Catalog:
    name: Mapping[str, str]
    timezone: str
    days_ahead: int
    remote_share: float
    departments: tuple[DepartmentConfig, ...]
    policy: Policy = DEFAULT_POLICY
    _by_id: Mapping[str, DepartmentConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # O(1) lookups: a hospital group may list thousands of departments
        object.__setattr__(self, "_by_id", MappingProxyType({d.id: d for d in self.departments}))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def department(self, dept_id: str) -> DepartmentConfig | None:
        return self._by_id.get(dept_id)


class _Src:
    """Turns YAML nodes into values while remembering where each came from."""

    def __init__(self, source: str, loader: yaml.SafeLoader) -> None:
        self.source = source
        self.loader = loader

    def fail(self, node: yaml.Node | None, problem: str) -> CatalogError:
        line = node.start_mark.line + 1 if node is not None else 1
        return CatalogError(f"{self.source}:{line}: {problem}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.scalar(k, f"a key in {what}")
            if not isinstance(key, str):
                raise self.fail(k, f"{what}: keys must be text, got {key!r}")
            if key in out:
                raise self.fail(k, f"{what}: duplicate key {key!r}")
            out[key] = v
        return out

    def scalar(self, node: yaml.Node, what: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return self.loader.construct_object(node, deep=True)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(node, f"{what} must be non-empty text, got {value!r}")
        return value.strip()

    def ident(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if not isinstance(value, str) or not _ID.match(value):
            raise self.fail(node, f"{what} must match [a-z0-9][a-z0-9_-]*, got {value!r}")
        return value

    def integer(self, node: yaml.Node, what: str, low: int, high: int) -> int:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(node, f"{what} must be a whole number {low}..{high}, got {value!r}")
        return value

    def share(self, node: yaml.Node, what: str) -> float:
        value = self.scalar(node, what)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self.fail(node, f"{what} must be a number from 0 to 1, got {value!r}")
        return float(value)

    def hhmm(self, node: yaml.Node, what: str) -> dt.time:
        value = parse_hhmm(self.scalar(node, what))
        if value is None:
            raise self.fail(node, f"{what} must be a time HH:MM in quotes, e.g. \"07:00\"")
        return value

    def names(self, node: yaml.Node, what: str) -> Mapping[str, str]:
        fields = self.mapping(node, what)
        for lang in LANGS:
            if lang not in fields:
                raise self.fail(node, f"{what} needs a {lang!r} entry")
        return MappingProxyType({k: self.text(v, f"{what}.{k}") for k, v in fields.items()})

    def unknown(self, fields: dict[str, yaml.Node], allowed: set[str], what: str) -> None:
        for key in fields:
            if key not in allowed:
                raise self.fail(fields[key], f"{what}: unknown key {key!r}")


def _templates(src: _Src, node: yaml.Node) -> dict[str, SessionTemplate]:
    out: dict[str, SessionTemplate] = {}
    for sid, snode in src.mapping(node, "sessions").items():
        what = f"sessions.{sid}"
        if not _ID.match(sid):
            raise src.fail(snode, f"session id {sid!r} must match [a-z0-9][a-z0-9_-]*")
        f = src.mapping(snode, what)
        src.unknown(f, {"label", "places", "start", "end"}, what)
        if "label" not in f or "places" not in f:
            raise src.fail(snode, f"{what} needs 'label' and 'places'")
        label = src.names(f["label"], f"{what}.label")
        start, end = _SESSION_HOURS.get(sid, (dt.time(8, 0), dt.time(12, 0)))
        if "start" in f:
            start = src.hhmm(f["start"], f"{what}.start")
        if "end" in f:
            end = src.hhmm(f["end"], f"{what}.end")
        if end <= start:
            raise src.fail(snode, f"{what}: end must be after start")
        places = src.integer(f["places"], f"{what}.places", 0, 10000)
        out[sid] = SessionTemplate(sid, label, places, start, end)
    if not out:
        raise src.fail(node, "sessions must define at least one session (e.g. am, pm)")
    return out


def _department(
    src: _Src, node: yaml.Node, templates: dict[str, SessionTemplate], share: float,
    fee: int = DEFAULT_FEE,
) -> DepartmentConfig:
    f = src.mapping(node, "department")
    for key in ("id", "name"):
        if key not in f:
            raise src.fail(node, f"department needs {key!r}")
    dept_id = src.ident(f["id"], "department id")
    what = f"department {dept_id}"
    src.unknown(f, {"id", "name", "remote_share", "sessions", "fee"}, what)
    if "fee" in f:
        fee = src.integer(f["fee"], f"{what} fee", 0, 10_000_000)
    name = src.names(f["name"], f"{what} name")
    if "remote_share" in f:
        share = src.share(f["remote_share"], f"{what} remote_share")
    sessions = dict(templates)
    if "sessions" in f:  # per-department places: {am: 60, pm: 0} (0 = no clinic)
        for sid, pnode in src.mapping(f["sessions"], f"{what} sessions").items():
            if sid not in templates:
                raise src.fail(pnode, f"{what}: session {sid!r} is not defined under sessions")
            places = src.integer(pnode, f"{what} sessions.{sid}", 0, 10000)
            t = templates[sid]
            sessions[sid] = SessionTemplate(sid, t.label, places, t.start, t.end)
    return DepartmentConfig(dept_id, name, share, tuple(sessions.values()), fee)


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    """Build a Catalog from YAML text; ``source`` names the file in error messages."""
    loader = yaml.SafeLoader(text)
    src = _Src(source, loader)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise CatalogError(f"{source}:{line}: not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise CatalogError(f"{source}:1: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if root is None:
        raise CatalogError(f"{source}:1: the catalog is empty")
    top = src.mapping(root, "the catalog")
    src.unknown(top, {"hospital", "sessions", "departments", "limits"}, "the catalog")
    for key in ("hospital", "sessions", "departments"):
        if key not in top:
            raise src.fail(root, f"the catalog needs a {key!r} section")
    h = src.mapping(top["hospital"], "hospital")
    src.unknown(h, {"name", "timezone", "days_ahead", "remote_share", "fee", *POLICY_KEYS},
                "hospital")
    if "name" not in h:
        raise src.fail(top["hospital"], "hospital needs a 'name'")
    tz = DEFAULT_TIMEZONE
    if "timezone" in h:
        tz = src.text(h["timezone"], "hospital.timezone")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise src.fail(h["timezone"], f"unknown timezone {tz!r}") from exc
    days = DEFAULT_DAYS_AHEAD
    if "days_ahead" in h:
        days = src.integer(h["days_ahead"], "hospital.days_ahead", 1, 92)
    share = DEFAULT_REMOTE_SHARE
    if "remote_share" in h:
        share = src.share(h["remote_share"], "hospital.remote_share")
    fee = DEFAULT_FEE
    if "fee" in h:
        fee = src.integer(h["fee"], "hospital.fee", 0, 10_000_000)
    templates = _templates(src, top["sessions"])
    dnode = top["departments"]
    if not isinstance(dnode, yaml.SequenceNode) or not dnode.value:
        raise src.fail(dnode, "departments must be a non-empty list")
    depts: list[DepartmentConfig] = []
    for item in dnode.value:
        dept = _department(src, item, templates, share, fee)
        if any(d.id == dept.id for d in depts):
            raise src.fail(item, f"department id {dept.id!r} is used twice")
        depts.append(dept)
    name = src.names(h["name"], "hospital.name")
    policy = parse_policy(src, h, top.get("limits"))
    if policy.reserve_share + max(d.remote_share for d in depts) > 1:
        raise src.fail(h.get("reserve_share"), "reserve_share + remote_share must not exceed 1")
    return Catalog(name, tz, days, share, tuple(depts), policy)


_SESSION_HOURS = {"am": (dt.time(8, 0), dt.time(12, 0)), "pm": (dt.time(13, 30), dt.time(17, 30))}


def load_catalog(path: str | Path) -> Catalog:
    """Read and check the catalog file; raises CatalogError naming ``path:line``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{p}:1: cannot read the catalog: {exc}") from exc
    return parse_catalog(text, str(p))
