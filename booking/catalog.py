"""The hospital catalog (config/hospital.yaml): departments, sessions, places, remote share.

Loaded once at start-up into frozen values. A mistake in the file stops start-up with a
``CatalogError`` that names ``file:line`` and the problem, because a silently wrong quota would
sell places the hospital does not have.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from booking.policy import DEFAULT_POLICY, Policy
from booking.policy_yaml import POLICY_KEYS, parse_policy
from booking.yaml_source import ID_PATTERN, CatalogError, YamlSource

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_DAYS_AHEAD = 7
DEFAULT_REMOTE_SHARE = 0.8
DEFAULT_FEE = 500  # fen: what a payment callback must carry for a booking (``fee``)


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


def _templates(src: YamlSource, node: yaml.Node) -> dict[str, SessionTemplate]:
    out: dict[str, SessionTemplate] = {}
    for sid, snode in src.mapping(node, "sessions").items():
        what = f"sessions.{sid}"
        if not ID_PATTERN.match(sid):
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
    src: YamlSource, node: yaml.Node, templates: dict[str, SessionTemplate], share: float,
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
    src = YamlSource(source, loader)
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
