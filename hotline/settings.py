"""Settings: ``config/hotline.yaml`` merged over built-in defaults.

A config file only needs the keys it changes. Absent ``redis.url`` means an embedded redis-server
(AOF, data under ``data_dir``); absent ``sms.smpp`` means a loopback SMSC simulator. Relative file
paths are resolved against the directory of the config file, so a deployment keeps its menus and
catalog next to its settings.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotline.gctune import gc_settings

DEFAULTS: dict[str, Any] = {
    "data_dir": "../var",
    "redis": {"url": None, "sentinel": None},  # sentinel: {service, addresses: [host:port]}
    "http": {"port": 8080, "interface": "127.0.0.1"},
    "ivr": {
        "fastagi": {"port": 4573, "interface": "127.0.0.1"},
        # docs/ivr.md: generated prompts (hotline prompts build) and recorded overrides
        "prompts": {"dir": "../prompts/sounds", "recorded": "../prompts/recorded"},
        "transfer": {"targets": {}, "dial_timeout_s": 30},  # e.g. {operator: PJSIP/operator}
    },
    "sms": {
        "source_addr": "12580",
        "templates": "sms.yaml",
        "smpp": None,  # {host, port, system_id, password, system_type}
        # CMPP 2.0 to China Mobile's ISMG instead of SMPP (docs/sms.md): {host, port, sp_id,
        # shared_secret, service_id, src_id, version, window, tps, simulator}
        "cmpp": None,
        # docs/sms.md: flow control, the events consumer, reminders, validity, MO keywords
        "window": 10,
        "tps": None,
        "consumer": "sms-1",
        "reminder_hour": 18,
        "validity": {},
        "mo_keywords": {},
        "receipt_ids": "same",  # same | hex_to_dec | dec_to_hex (resp id -> receipt id)
    },
    "menus": ["menus/booking.yaml"],
    "default_menu": "booking",
    "hospital": "hospital.yaml",
    "admin": {"token": None},
    # workers: processes serving the channels, auto = one per CPU; gc: see hotline/gctune.py
    # (docs/operations.md)
    "node": {"workers": 1, "gc": {"freeze": True, "thresholds": [20000, 50, 1000]}},
    # Sections owned by one package each; keys inside are documented in that package's docs/.
    "booking": {"sweep_interval": 1.0, "listing_cache_s": 1.0},  # docs/booking.md
    "payments": {"secret": None},  # HMAC-SHA256 key of /api/payments/callback (docs/booking.md)
    "ussd": {  # docs/ussd.md
        "timeout_s": 180,  # sliding: an idle dialogue is over after this
        "resume_s": 600,  # a redial within this is offered to continue
        "hop_timeout_s": 10,  # answer a "busy" notice rather than let the gateway give up
        "node_cache": True,  # one Redis round trip per hop; off for non-sticky multi-node setups
        "limits": {"gsm": 182, "ucs2": 70},  # screen size; per gateway: gateways.<name>.limits
        "gateways": {},  # at | hubtel | smpp: {limits: {gsm, ucs2}}
        "smpp": None,  # USSD over SMPP: {host, port, system_id, password, system_type, ops}
    },
}

SMPP_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 2775,
    "system_id": "hotline",
    "password": "",
    "system_type": "",
}


CMPP_DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 7890,  # the ISMG's long-connection port
    "sp_id": None,  # the 6-digit SP code (企业代码)
    "shared_secret": None,
    "service_id": "",  # Service_Id of every SUBMIT (业务代码)
    "src_id": None,  # the number patients see and answer to; absent: sms.source_addr
    "version": "2.0",
    "window": 16,
    "tps": None,  # SUBMITs per second on the link; absent: sms.tps
    "simulator": False,  # true: a loopback ISMG in this process (demo, tests)
}
SIMULATED_SP = {"sp_id": "901234", "shared_secret": "demo-secret"}


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved settings; ``raw`` keeps the merged mapping for components reading their own keys."""

    base_dir: Path
    raw: Mapping[str, Any]

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.path(self.raw["data_dir"])

    @property
    def redis_url(self) -> str | None:
        return self.raw["redis"]["url"]

    @property
    def redis_sentinel(self) -> Mapping[str, Any] | None:
        return self.raw["redis"].get("sentinel")

    @property
    def http_port(self) -> int:
        return int(self.raw["http"]["port"])

    @property
    def http_interface(self) -> str:
        return str(self.raw["http"]["interface"])

    @property
    def fastagi_port(self) -> int:
        return int(self.raw["ivr"]["fastagi"]["port"])

    @property
    def fastagi_interface(self) -> str:
        return str(self.raw["ivr"]["fastagi"]["interface"])

    @property
    def smpp(self) -> Mapping[str, Any] | None:
        configured = self.raw["sms"]["smpp"]
        return None if configured is None else {**SMPP_DEFAULTS, **configured}

    @property
    def cmpp(self) -> Mapping[str, Any] | None:
        """``sms.cmpp`` with defaults (a simulator fills in demo credentials), or None."""
        configured = self.raw["sms"].get("cmpp")
        if configured is None:
            return None
        merged = {**CMPP_DEFAULTS, **configured}
        if merged["simulator"]:
            merged = {**merged, **{k: merged[k] or v for k, v in SIMULATED_SP.items()}}
        if merged["src_id"] is None:
            merged["src_id"] = self.sms_source_addr
        return merged

    @property
    def sms_source_addr(self) -> str:
        return str(self.raw["sms"]["source_addr"])

    @property
    def sms_templates(self) -> Path:
        return self.path(self.raw["sms"]["templates"])

    @property
    def menu_files(self) -> list[Path]:
        return [self.path(m) for m in self.raw["menus"]]

    @property
    def default_menu(self) -> str:
        return str(self.raw["default_menu"])

    @property
    def hospital_file(self) -> Path:
        return self.path(self.raw["hospital"])

    @property
    def admin_token(self) -> str | None:
        return self.raw["admin"]["token"]

    @property
    def workers(self) -> int:
        """Processes of this node, the main one included (``node.workers``; ``auto``: CPUs)."""
        from hotline.workers import worker_count

        return worker_count(self.raw["node"]["workers"])


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``: mappings merge, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_settings(path: Path | None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read ``path`` (None → defaults relative to ./config) and apply ``overrides`` on top."""
    data: Mapping[str, Any] = {}
    base_dir = Path("config").resolve()
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc.strerror}") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
            raise SettingsError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, Mapping):
            raise SettingsError(f"{path}: settings must be a mapping of keys, not {type(loaded)}")
        unknown = set(loaded) - set(DEFAULTS)
        if unknown:
            raise SettingsError(f"{path}: unknown setting(s): {', '.join(sorted(unknown))}")
        data = loaded
        base_dir = path.resolve().parent
    raw = merge(merge(DEFAULTS, data), overrides or {})
    _check(raw, path)
    return Settings(base_dir=base_dir, raw=raw)


def _check(raw: Mapping[str, Any], path: Path | None) -> None:
    where = str(path) if path else "settings"
    for key in ("http", "ivr"):
        node = raw[key] if key == "http" else raw[key]["fastagi"]
        port = node.get("port")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise SettingsError(f"{where}: {key} port must be an integer 0-65535, got {port!r}")
    if not isinstance(raw["menus"], list) or not raw["menus"]:
        raise SettingsError(f"{where}: menus must be a non-empty list of files")
    try:
        _ = Settings(Path("."), raw).workers
        gc_settings(raw["node"].get("gc"))
    except ValueError as exc:
        raise SettingsError(f"{where}: {exc}") from exc
    smpp = raw["sms"]["smpp"]
    if smpp is not None and not isinstance(smpp, Mapping):
        raise SettingsError(f"{where}: sms.smpp must be a mapping (host, port, system_id, ...)")
    _check_cmpp(raw["sms"], where)


def _check_cmpp(sms: Mapping[str, Any], where: str) -> None:
    cmpp = sms.get("cmpp")
    if cmpp is None:
        return
    if not isinstance(cmpp, Mapping):
        raise SettingsError(f"{where}: sms.cmpp must be a mapping (host, port, sp_id, ...)")
    if sms["smpp"] is not None:
        raise SettingsError(f"{where}: sms.smpp and sms.cmpp are alternatives: set only one "
                            "(SMPP to an SMSC, CMPP to China Mobile's ISMG)")
    unknown = set(cmpp) - set(CMPP_DEFAULTS)
    if unknown:
        raise SettingsError(f"{where}: unknown sms.cmpp setting(s): {', '.join(sorted(unknown))}")
    merged = {**CMPP_DEFAULTS, **cmpp}
    if str(merged["version"]) not in ("2.0", "2", "32"):
        raise SettingsError(f"{where}: sms.cmpp.version: only CMPP 2.0 is spoken, "
                            f"got {merged['version']!r}")
    if len(str(merged["service_id"])) > 10 or not str(merged["service_id"]).isascii():
        raise SettingsError(f"{where}: sms.cmpp.service_id is at most 10 ASCII characters")
    if merged["src_id"] is not None and not (
            str(merged["src_id"]).isdigit() and len(str(merged["src_id"])) <= 21):
        raise SettingsError(f"{where}: sms.cmpp.src_id must be 1-21 digits")
    if merged["simulator"]:
        return
    sp_id = str(merged["sp_id"] or "")
    if not (sp_id.isdigit() and len(sp_id) == 6):
        raise SettingsError(f"{where}: sms.cmpp.sp_id must be the 6-digit SP code")
    if not merged["shared_secret"]:
        raise SettingsError(f"{where}: sms.cmpp.shared_secret is required (from the operator)")
