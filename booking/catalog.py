"""The hospitals of the platform: departments, sessions, places, remote share, per hospital.

``load_platform`` reads a folder of hospital files (one YAML per hospital, an optional
``platform.yaml``) or today's single ``hospital.yaml`` (a platform of one hospital). Loaded into
frozen values. A mistake in the file stops start-up with a
``CatalogError`` that names ``file:line`` and the problem, because a silently wrong quota would
sell places the hospital does not have.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from booking.policy import DEFAULT_POLICY, Limits, Policy
from booking.policy_yaml import POLICY_KEYS, parse_policy
from booking.yaml_source import ID_PATTERN, CatalogError, YamlSource

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_DAYS_AHEAD = 7
DEFAULT_REMOTE_SHARE = 0.8
DEFAULT_FEE = 500  # fen: what a payment callback must carry for a booking (``fee``)
SINGLE_ID = "main"  # the id and code of the hospital of a single hospital.yaml naming none
SINGLE_CODE = "1"
PLATFORM_FILE = "platform.yaml"
_CODE = re.compile(r"^[0-9]{1,4}$")
_KIOSK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
class HospitalConfig:
    """One hospital of the platform: its schedule, its policy and how it is shown."""

    name: Mapping[str, str]
    timezone: str
    days_ahead: int
    remote_share: float
    departments: tuple[DepartmentConfig, ...]
    policy: Policy = DEFAULT_POLICY
    id: str = SINGLE_ID  # like department ids: inside Redis hash tags {h:<id>}
    code: str = SINGLE_CODE  # 1-4 digits: the keypad code on posters, unique on the platform
    short: Mapping[str, str] = field(default_factory=dict)  # names for small screens
    district: Mapping[str, str] = field(default_factory=dict)
    sms_signature: str = ""  # e.g. "【市一医院】"
    kiosks: tuple[str, ...] = ()  # kiosk ids registered to this hospital
    _by_id: Mapping[str, DepartmentConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # O(1) lookups: a hospital group may list thousands of departments
        object.__setattr__(self, "_by_id", MappingProxyType({d.id: d for d in self.departments}))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def department(self, dept_id: str) -> DepartmentConfig | None:
        return self._by_id.get(dept_id)


@dataclass(frozen=True, slots=True)
class Platform:
    """Every hospital on the line and the per-person limits that hold across them."""

    hospitals: tuple[HospitalConfig, ...]
    limits: Limits = field(default_factory=Limits)
    name: Mapping[str, str] = field(default_factory=dict)
    _by_id: Mapping[str, HospitalConfig] = field(init=False, repr=False, compare=False)
    _by_code: Mapping[str, HospitalConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.hospitals:
            raise CatalogError("a platform needs at least one hospital")
        object.__setattr__(self, "_by_id", MappingProxyType({h.id: h for h in self.hospitals}))
        object.__setattr__(self, "_by_code", MappingProxyType({h.code: h for h in self.hospitals}))

    @property
    def single(self) -> bool:
        """One hospital: no hospital question is asked, and ``""`` means that hospital."""
        return len(self.hospitals) == 1

    def hospital(self, hospital_id: str) -> HospitalConfig | None:
        """The hospital with this id; ``""`` is the only hospital of a single platform."""
        if not hospital_id:
            return self.hospitals[0] if self.single else None
        return self._by_id.get(hospital_id)

    def by_code(self, code: str) -> HospitalConfig | None:
        return self._by_code.get(code)

    @classmethod
    def of(cls, hospital: HospitalConfig) -> Platform:
        """The platform of one hospital, its limits the platform's (today's single file)."""
        return cls((hospital,), hospital.policy.limits, dict(hospital.name))


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


def parse_catalog(
    text: str, source: str = "<catalog>", *, limits: Limits | None = None, folder: bool = False
) -> HospitalConfig:
    """Build a HospitalConfig from YAML text; ``source`` names the file in error messages.

    ``limits``: the platform's, used when the file has no ``limits:`` section. ``folder``: the
    file is one of a folder of hospitals, so it must name its ``code``."""
    return _parse(text, source, limits, folder)[0]


def _parse(
    text: str, source: str, limits: Limits | None, folder: bool
) -> tuple[HospitalConfig, dict[str, int]]:
    """The hospital and the lines of its ``id`` and ``code`` (0: not in the file)."""
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
    src.unknown(h, {"name", "timezone", "days_ahead", "remote_share", "fee", *POLICY_KEYS,
                    *_IDENTITY_KEYS}, "hospital")
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
    if "limits" not in top and limits is not None:
        policy = replace(policy, limits=limits)
    if policy.reserve_share + max(d.remote_share for d in depts) > 1:
        raise src.fail(h.get("reserve_share"), "reserve_share + remote_share must not exceed 1")
    if folder and "code" not in h:
        raise src.fail(top["hospital"], "hospital needs a 'code' (1-4 digits) in a folder")
    lines = {k: h[k].start_mark.line + 1 if k in h else 0 for k in ("id", "code")}
    hospital = HospitalConfig(name, tz, days, share, tuple(depts), policy,
                              **_identity(src, h, name))
    return hospital, lines


_IDENTITY_KEYS = {"id", "code", "short", "district", "sms_signature", "kiosks"}


def _identity(src: YamlSource, h: dict[str, yaml.Node], name: Mapping[str, str]) -> dict:
    """The hospital's id, code, short name, district, SMS signature and kiosks."""
    out: dict = {"short": name}
    if "id" in h:
        out["id"] = src.ident(h["id"], "hospital.id")
    if "code" in h:
        code = str(src.scalar(h["code"], "hospital.code"))
        if not _CODE.match(code):
            raise src.fail(h["code"], f"hospital.code must be 1 to 4 digits, got {code!r}")
        out["code"] = code
    if "short" in h:
        out["short"] = src.names(h["short"], "hospital.short")
    if "district" in h:
        out["district"] = src.names(h["district"], "hospital.district")
    if "sms_signature" in h:
        out["sms_signature"] = src.text(h["sms_signature"], "hospital.sms_signature")
    if "kiosks" in h:
        node = h["kiosks"]
        if not isinstance(node, yaml.SequenceNode):
            raise src.fail(node, "hospital.kiosks must be a list of kiosk ids")
        kiosks = []
        for item in node.value:
            kiosk = str(src.scalar(item, "a kiosk id"))
            if not _KIOSK.match(kiosk) or kiosk in kiosks:
                raise src.fail(item, f"kiosk id {kiosk!r} must be 1-64 of [A-Za-z0-9_.-], once")
            kiosks.append(kiosk)
        out["kiosks"] = tuple(kiosks)
    return out


_SESSION_HOURS = {"am": (dt.time(8, 0), dt.time(12, 0)), "pm": (dt.time(13, 30), dt.time(17, 30))}


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{p}:1: cannot read the catalog: {exc}") from exc


def load_catalog(path: str | Path) -> HospitalConfig:
    """Read and check one hospital file; raises CatalogError naming ``path:line``.

    For a folder, the platform's first hospital (tools that need one hospital's names)."""
    p = Path(path)
    if p.is_dir():
        return load_platform(p).hospitals[0]
    return parse_catalog(_read(p), str(p))


def load_platform(path: str | Path) -> Platform:
    """The platform in ``path``: a folder of hospital files, or one hospital file.

    A folder holds one ``*.yaml`` per hospital (each naming its ``id``, else the file's stem,
    and its ``code``) and optionally ``platform.yaml`` with the platform's ``name`` and
    ``limits``; hospitals are listed in file-name order. Raises CatalogError naming
    ``file:line``; an id or code used twice names both files."""
    p = Path(path)
    if not p.is_dir():
        return Platform.of(load_catalog(p))
    limits, name = Limits(), {}
    top = p / PLATFORM_FILE
    if top.exists():
        limits, name = _platform_file(top)
    hospitals: list[HospitalConfig] = []
    where: dict[tuple[str, str], str] = {}
    for f in sorted(p.glob("*.yaml")):
        if f.name == PLATFORM_FILE:
            continue
        h, lines = _parse(_read(f), str(f), limits, True)
        if not lines["id"]:
            if not ID_PATTERN.match(f.stem):
                raise CatalogError(f"{f}:1: hospital needs an 'id' (the file name is not one)")
            h = replace(h, id=f.stem)
        for kind, value in (("id", h.id), ("code", h.code)):
            here = f"{f}:{lines[kind] or 1}"
            if (kind, value) in where:
                raise CatalogError(f"{here}: hospital {kind} {value!r} is already used by "
                                   f"{where[kind, value]}")
            where[kind, value] = here
        hospitals.append(h)
    if not hospitals:
        raise CatalogError(f"{p}:1: the folder holds no hospital file (*.yaml)")
    return Platform(tuple(hospitals), limits, name)


def _platform_file(path: Path) -> tuple[Limits, dict[str, str]]:
    """``platform.yaml``: the platform's ``name`` and its ``limits`` (the per-person caps)."""
    text = _read(path)
    loader = yaml.SafeLoader(text)
    src = YamlSource(str(path), loader)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}:1: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if root is None:
        return Limits(), {}
    top = src.mapping(root, "platform.yaml")
    src.unknown(top, {"name", "limits"}, "platform.yaml")
    name = dict(src.names(top["name"], "name")) if "name" in top else {}
    limits = parse_policy(src, {}, top.get("limits")).limits
    return limits, name
