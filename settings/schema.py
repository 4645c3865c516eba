"""Settings: one typed schema, a YAML file with only the keys it changes, validated at start.

``Schema`` below is the whole list of keys: each is one line giving its type, its default and a
one-line description (``docs/settings.md`` is generated from it by ``hotline config reference``).
A settings file is checked against it before anything starts: an unknown key (with the nearest
valid one for a misspelling) or a wrong type is an error naming ``file:line:column``.

Paths: what the user writes resolves against the folder of the user's file. What the user leaves
out resolves to the shipped defaults (menus, catalog, SMS templates), package data of
``hotline.defaults`` read through ``importlib.resources``, or for working data (``data_dir``, the
generated prompts) to the current directory. ``Settings.raw`` holds every key with every path
made absolute, so components read their own section from it.
"""

from __future__ import annotations

import copy
import difflib
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from node.gctune import gc_settings


class SettingsError(ValueError):
    pass


# Where a path key's default lives when the user's file does not set it.
PACKAGE = "package"  # the shipped defaults: package data of hotline.defaults (repository config/)
WORKDIR = "workdir"  # working data: relative to the directory hotline is started in
VALUE = object()  # in a marks key: where the value of that key starts, not the key itself
SECRET_NAMES = frozenset({"password", "token", "secret"})  # masked by `hotline config show`


def key(default: Any, doc: str, *, kind: str | None = None, path: str | None = None) -> Any:
    """One setting: its default and one-line description; ``kind`` names the type in the docs
    when the annotation says too little; ``path`` marks a file or folder (PACKAGE or WORKDIR)."""
    extra: dict[str, Any] = {}
    if kind:
        extra["kind"] = kind
    if path:
        extra["path"] = path
    if isinstance(default, type) and issubclass(default, BaseModel):
        return Field(default_factory=default, description=doc, json_schema_extra=extra)
    if isinstance(default, dict | list):
        frozen = copy.deepcopy(default)
        return Field(default_factory=lambda: copy.deepcopy(frozen), description=doc,
                     json_schema_extra=extra)  # fmt: skip
    return Field(default, description=doc, json_schema_extra=extra)


def _checked(check: Callable[[Any], Any]) -> Any:
    """A type checked by the component's own validator (its message names the key)."""

    def run(value: Any) -> Any:
        check(value)
        return value

    return Annotated[Any, AfterValidator(run)]


def _workers(value: Any) -> int:
    from node.workers import worker_count

    return worker_count(value, cpus=lambda: 1)


Workers = _checked(_workers)
GcSpec = _checked(gc_settings)


class Section(BaseModel):
    """A group of keys: unknown keys are errors, values are not coerced (``"80"`` is no int)."""

    model_config = ConfigDict(extra="forbid", strict=True)


Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


# ---- the schema: add a key as one line in its section (type, key(default, description)) ----


class Sentinel(Section):
    service: str = key(..., "name of the master Sentinel monitors")
    addresses: list[str] = key(..., "Sentinels as host:port, e.g. [10.0.0.1:26379]")
    db: int = key(0, "database number")
    password: str | None = key(None, "password of the Redis master")


class Redis(Section):
    url: str | None = key(None, "redis://[:password@]host:port/db; absent: embedded redis-server "
                                "(AOF) under data_dir, unless sentinel is set")  # fmt: skip
    sentinel: Sentinel | None = key(None, "a Sentinel-monitored master instead of url")
    start_backoff_initial_s: Positive = key(0.5, "start-up waits for a Redis that cannot take "
                                                 "writes yet: first retry after this")  # fmt: skip
    start_backoff_max_s: Positive = key(30.0, "... doubling (jittered) up to this")


class Http(Section):
    port: Port = key(8080, "USSD gateways, kiosks, payment callbacks, /healthz, /metrics")
    interface: str = key("127.0.0.1", "address to listen on; 0.0.0.0 for other hosts")
    max_body_bytes: Annotated[int, Field(gt=0)] = key(
        65536, "a larger declared body gets 413 at once and the connection is closed")
    header_timeout_s: Positive = key(10, "request line and headers due within this of the "
                                         "request's first byte; else 408")  # fmt: skip
    body_timeout_s: Positive = key(10, "the body due within this after the headers; else 408")
    keepalive_timeout_s: Positive = key(75, "an idle kept-alive connection is closed after this")
    trusted_proxies: list[str] = key([], "addresses or CIDR networks whose X-Forwarded-For "
                                         "names the client (docs/operations.md)")  # fmt: skip


class Kiosk(Section):
    ids: list[str] | None = key(None, "registered kiosks; any other kiosk_id gets 403; absent: "
                                      "any kiosk_id may use the kiosk API")  # fmt: skip
    secrets: dict[str, str] | None = key(None, "per-kiosk secret sent in X-Kiosk-Secret, e.g. "
                                               "{lobby-1: long-random}")  # fmt: skip
    idle_s: Positive = key(30, "the kiosk screen goes back to its idle screen after this")
    pdf_font: str = key("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "CJK font (.ttf/.ttc) "
                        "of the PDF slip, /api/kiosk/check-in.pdf (docs/kiosk.md)")  # fmt: skip


class Web(Section):
    enabled: bool = key(True, "patients book on a phone browser at /book/ (docs/web.md)")
    otp_ttl_s: Annotated[int, Field(ge=30, le=3600)] = key(300, "a one-time code is good for "
                                                               "this long")  # fmt: skip
    otp_max_tries: Annotated[int, Field(ge=1, le=10)] = key(3, "wrong codes that burn a code")
    otp_resend_s: Annotated[int, Field(ge=0)] = key(60, "a new code to the same phone at "
                                                        "most once in this")  # fmt: skip
    otp_per_phone: Annotated[int, Field(ge=1)] = key(5, "codes per phone per otp_window_s")
    otp_per_client: Annotated[int, Field(ge=1)] = key(20, "codes per client address per "
                                                          "otp_window_s")  # fmt: skip
    otp_window_s: Annotated[int, Field(ge=60)] = key(3600, "the window of the two limits above")
    session_s: Annotated[int, Field(ge=60)] = key(1800, "a proven phone stays signed in this "
                                                        "long")  # fmt: skip
    cookie_secure: bool = key(False, "mark cookies Secure (set true when served over HTTPS)")
    public_url: str | None = key(None, "base URL patients reach this server at, e.g. https://yy."
                                       "example.cn; set: the booking SMS links to /t/<token>, the "
                                       "T-code's QR page (docs/kiosk.md); absent: no link (the "
                                       "demo: its own http://127.0.0.1:<port>)")  # fmt: skip


class Terminal(Section):
    secrets: dict[str, str] = key({}, "partner terminals and their HMAC keys, e.g. {pos-17: "
                                      "long-random}; empty: the API answers 404")  # fmt: skip
    max_skew_s: Annotated[int, Field(ge=10, le=3600)] = key(
        300, "a request's timestamp may differ this much from ours")


class FastAgi(Section):
    port: Port = key(4573, "where Asterisk connects: AGI(agi://host:4573/booking)")
    interface: str = key("127.0.0.1", "address to listen on; 0.0.0.0 for other hosts")


class Prompts(Section):
    dir: str = key("prompts/sounds", "where `hotline prompts build` writes", path=WORKDIR)
    recorded: str = key("prompts/recorded", "recordings that replace generated prompts",
                        path=WORKDIR)  # fmt: skip


class Transfer(Section):
    targets: dict[str, str] = key({}, "Dial() target per transfer name, e.g. "
                                      "{operator: PJSIP/operator}")  # fmt: skip
    dial_timeout_s: Seconds = key(30, "ring time before `noanswer`")


class LiveSpeech(Section):
    enabled: bool = key(False, "say {speak:…} free text on demand (docs/ivr.md, 'Free text')")
    url: str | None = key(None, "base URL Asterisk uses to reach /voice/live; required when "
                                "enabled")  # fmt: skip
    cache_dir: str = key("var/live_speech", "where rendered speech is kept", path=WORKDIR)


class Ivr(Section):
    fastagi: FastAgi = key(FastAgi, "the FastAGI listener (docs/ivr.md)")
    prompts: Prompts = key(Prompts, "voice prompt files (docs/ivr.md)")
    transfer: Transfer = key(Transfer, "transfers to people (docs/ivr.md)")
    live_speech: LiveSpeech = key(LiveSpeech, "free text rendered on demand, off by default")
    numbers: dict[str, str] = key({}, "dialed number (agi_dnid, agi_extension) -> its hospital "
                                      "(id or code), e.g. {'1258001': h01}")  # fmt: skip


class Smpp(Section):
    host: str = key("127.0.0.1", "the SMSC's address")
    port: Port = key(2775, "the SMSC's SMPP port")
    system_id: str = key("hotline", "bind login")
    password: str = key("", "bind password")
    system_type: str = key("", "bind system_type, if the SMSC wants one")


def _cmpp_version(value: Any) -> str:
    if str(value) not in ("2.0", "2", "32"):  # 32 = 0x20, as the version byte is written
        raise ValueError(f"only CMPP 2.0 is spoken, got {value!r}")
    return "2.0"


SIMULATED_SP = {"sp_id": "901234", "shared_secret": "demo-secret"}  # the loopback ISMG's


class Cmpp(Section):
    host: str = key("127.0.0.1", "the ISMG's address")
    port: Port = key(7890, "the ISMG's long-connection port")
    sp_id: str | None = key(None, "the 6-digit SP code (企业代码); required unless simulator")
    shared_secret: str | None = key(None, "the shared secret from the operator; required "
                                          "unless simulator")  # fmt: skip
    service_id: Annotated[str, Field(max_length=10, pattern=r"^[\x00-\x7f]*$")] = key(
        "", "Service_Id of every SUBMIT (业务代码), at most 10 ASCII characters")
    src_id: Annotated[str, Field(pattern=r"^[0-9]{1,21}$")] | None = key(
        None, "the number patients see and answer to, 1-21 digits; absent: sms.source_addr")
    version: Annotated[Any, AfterValidator(_cmpp_version)] = key(
        "2.0", "protocol version; only CMPP 2.0 is spoken", kind="2.0")
    window: Annotated[int, Field(ge=1, le=100)] = key(16, "outstanding SUBMITs on the link")
    tps: float | None = key(None, "SUBMITs per second on the link; absent: sms.tps")
    simulator: bool = key(False, "a loopback ISMG in this process (demo, tests), with demo "
                                 "credentials where none are set")  # fmt: skip

    @model_validator(mode="after")
    def _credentials(self) -> Cmpp:
        if self.simulator:
            return self
        if not (self.sp_id and self.sp_id.isdigit() and len(self.sp_id) == 6):
            raise ValueError("sms.cmpp.sp_id must be the 6-digit SP code")
        if not self.shared_secret:
            raise ValueError("sms.cmpp.shared_secret is required (from the operator)")
        return self


class Sms(Section):
    source_addr: str = key("12580", "sender shown to patients (our short code)")
    templates: str = key("sms.yaml", "message texts per kind and language", path=PACKAGE)
    signature: str | None = key(None, "the 签名 of messages about no one hospital (MO answers on a "
                                      "platform of several); absent: 【source_addr】")  # fmt: skip
    smpp: Smpp | None = key(None, "the operator's SMSC; absent: a loopback SMSC simulator")
    cmpp: Cmpp | None = key(None, "CMPP 2.0 to China Mobile's ISMG instead of smpp (set one, "
                                  "not both; docs/sms.md)")  # fmt: skip
    window: Annotated[int, Field(ge=1, le=100)] = key(10, "outstanding submit_sm per bind")
    tps: float | None = key(None, "submit_sm per second per bind (parts); absent: no limit")
    consumer: str = key("sms-1", "this node's name in the `sms` consumer group of hl:events")
    sender_name: str | None = key(None, "this node's name on the shared outbox; absent: "
                                        "<hostname>:<http.port>")  # fmt: skip
    lease_s: Seconds = key(300, "how long another node's message may stay in flight before "
                                "this node takes it back")  # fmt: skip
    reminder_hour: Annotated[int, Field(ge=0, le=23)] = key(
        18, "reminders go out the day before the visit at this hour (hospital time)")
    validity: dict[str, float] = key({}, "seconds a message of a kind may still be sent after "
                                         "its event, e.g. {reminder: 43200}")  # fmt: skip
    mo_keywords: dict[Literal["cancel", "query", "register", "help", "appeal"], list[str]] = key(
        {}, "MO command words, e.g. {cancel: [QX, 取消]}; absent commands keep theirs")
    receipt_ids: Literal["same", "hex_to_dec", "dec_to_hex"] = key(
        "same", "how this SMSC's receipts write the id of its submit_sm_resp")

    @model_validator(mode="after")
    def _one_gateway(self) -> Sms:
        if self.smpp is not None and self.cmpp is not None:
            raise ValueError("sms.smpp and sms.cmpp are alternatives: set only one (SMPP to an "
                             "SMSC, CMPP to China Mobile's ISMG)")
        return self


class Admin(Section):
    token: str | None = key(None, "bearer token of /api/admin/…; absent: the admin API refuses")
    hospital_tokens: dict[str, str] = key({}, "a hospital's own bearer token, acting for that "
                                              "hospital alone, e.g. {sz-renmin: long-random} "
                                              "(docs/operations.md)")  # fmt: skip

    @model_validator(mode="after")
    def _distinct(self) -> Admin:
        given = [t for t in self.hospital_tokens.values()]
        if any(not t for t in given):
            raise ValueError("admin.hospital_tokens: a token must not be empty")
        if len(set(given)) != len(given) or (self.token is not None and self.token in given):
            raise ValueError("admin.hospital_tokens: every token must be distinct, and none "
                             "the platform's admin.token")
        return self


class Console(Section):
    session_s: Positive = key(28800, "a console login lasts this long (a working shift)")
    login_attempts_per_user: Annotated[int, Field(ge=1)] = key(
        5, "failed console logins per user name in a window; then refused until it ends")
    login_attempts_per_address: Annotated[int, Field(ge=1)] = key(
        20, "failed console logins per client address (IPv6: /64) in a window")
    login_window_s: Positive = key(900, "the window of the login limits")
    audit_keep: Annotated[int, Field(ge=1)] = key(10000, "audit entries kept per hospital")


class Gc(Section):
    freeze: bool = key(True, "gc.freeze() once start-up is done")
    thresholds: list[int] = key([20000, 50, 1000], "gc.set_threshold(g0, g1, g2)")


class Node(Section):
    workers: Workers = key(1, "processes serving HTTP and FastAGI, the main one included; "
                              "auto: one per CPU", kind="int >= 1 | auto")  # fmt: skip
    gc: GcSpec = key(Gc().model_dump(), "the garbage collector, set after start-up; `python` "
                     "keeps CPython's defaults", kind="{freeze: bool, thresholds: [int, int, "
                     "int]} | python")  # fmt: skip
    fast_path: bool = key(True, "raw socket writes, lean Redis client, lean USSD HTTP (fastpath/)"
                          "; false: stock txredisapi and twisted.web")  # fmt: skip


class Booking(Section):
    sweep_interval: Seconds = key(1.0, "seconds between sweeps of lapsed holds and ended sessions")
    listing_cache_s: Seconds = key(1.0, "how old a 'places left' listing may be on a node; 0: "
                                        "always Redis")  # fmt: skip
    person_limits_scope: Literal["platform", "hospital"] = key(
        "platform", "the per-person limits (per day, 7 and 90 days) count across the platform "
        "or per hospital")
    blacklist_scope: Literal["platform", "hospital"] = key(
        "platform", "a bar (no-shows, cancels) keeps an ID from every hospital or only the one "
        "it was earned at")


class Payments(Section):
    secret: str | None = key(None, "HMAC-SHA256 key of /api/payments/callback; absent: 503")


class UssdLimits(Section):
    gsm: int = key(182, "screen size in GSM 03.38 septets")
    ucs2: int = key(70, "screen size in UCS2 units")


class UssdGateway(Section):
    limits: dict[Literal["gsm", "ucs2"], int] = key({}, "this gateway's screen size, e.g. "
                                                        "{ucs2: 60}")  # fmt: skip


class Ussd(Section):
    timeout_s: Seconds = key(180, "sliding: an idle dialogue is over after this")
    resume_s: Seconds = key(600, "a redial within this is offered to continue")
    hop_timeout_s: Seconds = key(10, "answer a 'busy' notice rather than let the gateway give up")
    node_cache: bool = key(True, "one Redis round trip per hop; false for non-sticky multi-node")
    menu_version_ttl_s: Annotated[int, Field(ge=1)] = key(
        86400, "how long a menu version stays in Redis after the last node held it (a dialogue "
        "moving nodes goes on on its version); never less than the session lifetime")
    limits: UssdLimits = key(UssdLimits, "screen size of every gateway")
    gateways: dict[Literal["at", "hubtel", "smpp"], UssdGateway] = key(
        {}, "per gateway overrides, e.g. {hubtel: {limits: {ucs2: 60}}}")
    smpp: dict[str, Any] | None = key(
        None, "USSD over SMPP: {host, port, system_id, password, system_type, ops} (docs/ussd.md);"
        " absent: off")


class Log(Section):
    format: Literal["text", "json"] = key("text", "text: one line per event, for a terminal; "
                                                  "json: one JSON object per line")  # fmt: skip


class Schema(Section):
    data_dir: str = key("var", "embedded Redis data (redis/)", path=WORKDIR)
    redis: Redis = key(Redis, "where bookings, dialogues and the SMS outbox live")
    http: Http = key(Http, "the HTTP listener: limits, deadlines, reverse proxies")
    kiosk: Kiosk = key(Kiosk, "the kiosk registry (docs/booking.md)")
    web: Web = key(Web, "pages for patients' browsers: booking, the T-code's QR (docs/web.md)")
    terminal: Terminal = key(Terminal, "the partner terminal API (docs/terminal-api.md)")
    ivr: Ivr = key(Ivr, "voice calls (docs/ivr.md)")
    sms: Sms = key(Sms, "SMS over SMPP (docs/sms.md)")
    menus: Annotated[list[str], Field(min_length=1)] = key(
        ["menus/booking.yaml"], "menu files (docs/menus.md)", path=PACKAGE)
    default_menu: str = key("booking", "menu for a USSD dial or an AGI URL without a path")
    catalog: str = key("hospitals", "the hospitals: a folder of one YAML file per hospital "
                       "(and platform.yaml), or one hospital's file (docs/operations.md)",
                       path=PACKAGE)  # fmt: skip
    hospital: str | None = key(None, "the older name of catalog (one hospital's file, or a "
                                     "folder); set one of the two; shown as the path in force",
                               path=PACKAGE)  # fmt: skip
    admin: Admin = key(Admin, "the admin API")
    console: Console = key(Console, "the hospital console under /console/ (docs/console.md)")
    node: Node = key(Node, "this node's processes (docs/operations.md)")
    booking: Booking = key(Booking, "booking core (docs/booking.md)")
    payments: Payments = key(Payments, "the payment callback (docs/booking.md)")
    ussd: Ussd = key(Ussd, "USSD gateways (docs/ussd.md)")
    log: Log = key(Log, "log lines (docs/operations.md, 'Logs and personal data')")

    @model_validator(mode="before")
    @classmethod
    def _one_catalog(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("catalog") is not None \
                and data.get("hospital") is not None:
            raise ValueError("catalog and hospital name the same thing (hospital is the older "
                             "name): set only one")
        return data


# ---- end of the schema ----

DEFAULTS: dict[str, Any] = Schema().model_dump()

SMPP_DEFAULTS: dict[str, Any] = Smpp().model_dump()


def defaults_dir() -> Path:
    """The shipped defaults on disk (repository ``config/``, installed as ``hotline.defaults``)."""
    return Path(str(resources.files("hotline.defaults").joinpath("__init__.py"))).parent


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
        """``sms.cmpp`` (a simulator fills in demo credentials), or None."""
        configured = self.raw["sms"].get("cmpp")
        if configured is None:
            return None
        merged = dict(configured)
        if merged["simulator"]:
            merged.update({k: merged[k] or v for k, v in SIMULATED_SP.items()})
        if merged["src_id"] is None:
            merged["src_id"] = self.sms_source_addr
        return merged

    @property
    def sms_source_addr(self) -> str:
        return str(self.raw["sms"]["source_addr"])

    @property
    def sms_signature(self) -> str:
        """The platform's SMS signature (a hospital's own comes from its hospital file)."""
        return str(self.raw["sms"].get("signature") or f"【{self.sms_source_addr}】")

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
    def catalog_path(self) -> Path:
        """The hospitals' folder or one hospital's file (``catalog``, or its older name
        ``hospital``: ``raw`` holds the path in force under both)."""
        return self.path(self.raw["catalog"])

    @property
    def hospital_file(self) -> Path:
        """``catalog_path`` under its older name (a folder, too)."""
        return self.catalog_path

    @property
    def booking_scopes(self) -> dict[str, str]:
        """The booking service's ``person_scope`` and ``blacklist_scope`` keywords
        (``booking.person_limits_scope``, ``booking.blacklist_scope``)."""
        raw = self.raw["booking"]
        return {"person_scope": str(raw["person_limits_scope"]),
                "blacklist_scope": str(raw["blacklist_scope"])}

    @property
    def admin_token(self) -> str | None:
        return self.raw["admin"]["token"]

    @property
    def workers(self) -> int:
        """Processes of this node, the main one included (``node.workers``; ``auto``: CPUs)."""
        from node.workers import worker_count

        return worker_count(self.raw["node"]["workers"])


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base``: mappings merge, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for name, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(name), Mapping):
            out[name] = merge(out[name], value)
        else:
            out[name] = copy.deepcopy(value)
    return out


def load_settings(path: Path | None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Read ``path`` (None: every default) and apply ``overrides`` (command-line options) on top.

    Raises ``SettingsError`` naming ``file:line:column`` for every problem found."""
    data: dict[str, Any] = {}
    marks: dict[tuple[Any, ...], str] = {}
    base_dir = Path.cwd()
    if path is not None:
        data, marks = read_file(path)
        base_dir = path.resolve().parent
    given = merge(data, overrides or {})
    for name, other in (("catalog", "hospital"), ("hospital", "catalog")):
        if (overrides or {}).get(name) is not None:  # an option names the hospitals: the file's
            given.pop(other, None)  # other name for them gives way
    where = str(path) if path is not None else "settings"
    try:
        model = Schema.model_validate(given)
    except ValidationError as exc:
        raise SettingsError("\n".join(_problems(exc, marks, where, overrides or {}))) from None
    raw = model.model_dump()
    _resolve_paths(raw, given, base_dir)
    raw["catalog"] = raw["hospital"] = raw["hospital"] or raw["catalog"]  # one path, two names
    return Settings(base_dir=base_dir, raw=raw)


def read_file(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    """The file's mapping and ``file:line:column`` of every key in it (by dotted path)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc.strerror}") from exc
    try:
        loaded = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SettingsError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if loaded is None:
        return {}, {}
    if not isinstance(loaded, dict):
        raise SettingsError(f"{path}:1:1: settings must be a mapping of keys, "
                            f"not {type(loaded).__name__}")  # fmt: skip
    marks: dict[tuple[Any, ...], str] = {}
    _collect_marks(node, (), str(path), marks)
    return loaded, marks


def _collect_marks(node: Any, prefix: tuple[Any, ...], name: str,
                   out: dict[tuple[Any, ...], str]) -> None:  # fmt: skip
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            try:
                name_of = yaml.safe_load(yaml.serialize(key_node))
            except yaml.YAMLError:
                continue
            here = (*prefix, name_of)
            mark = key_node.start_mark
            out[here] = f"{name}:{mark.line + 1}:{mark.column + 1}"
            mark = value_node.start_mark
            out[(*here, VALUE)] = f"{name}:{mark.line + 1}:{mark.column + 1}"
            _collect_marks(value_node, here, name, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            mark = item.start_mark
            out[(*prefix, index)] = f"{name}:{mark.line + 1}:{mark.column + 1}"
            _collect_marks(item, (*prefix, index), name, out)


def _problems(exc: ValidationError, marks: Mapping[tuple[Any, ...], str], where: str,
              overrides: Mapping[str, Any]) -> list[str]:  # fmt: skip
    """One ``file:line:column: ...`` line per error, in the file's order."""
    found: list[tuple[tuple[int, ...], str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        known = [part for part in loc if not (isinstance(part, str) and "[" in part)]
        at = where
        for n in range(len(known), 0, -1):  # the deepest key the file has
            if _has(overrides, known[:n]):
                at = "command line"  # the value came from an option, not from the file
                break
            if error["type"] != "extra_forbidden" and (*known[:n], VALUE) in marks:
                at = marks[(*known[:n], VALUE)]
                break
            if tuple(known[:n]) in marks:
                at = marks[tuple(known[:n])]
                break
        order = tuple(int(p) for p in at.split(":")[-2:] if p.isdigit())
        dotted = ".".join(str(p) for p in known)
        if error["type"] == "extra_forbidden":
            hint = nearest(known[:-1], str(known[-1]))
            suggestion = f" (did you mean '{hint}'?)" if hint else ""
            found.append((order, f"{at}: unknown setting '{dotted}'{suggestion}"))
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        message = message.removeprefix(f"{dotted}: ").removeprefix(f"{dotted} ")
        if error["type"] == "missing":
            message = "required"
        elif not error["type"].startswith("value_error") and not isinstance(
                error.get("input"), dict | list):
            message += f", got {error.get('input')!r}"
        found.append((order, f"{at}: {dotted}: {message}" if dotted else f"{at}: {message}"))
    return [line for _, line in sorted(found, key=lambda item: item[0])]


def _has(mapping: Any, path: list[Any]) -> bool:
    for part in path:
        if not isinstance(mapping, Mapping) or part not in mapping:
            return False
        mapping = mapping[part]
    return True


def nearest(section: list[Any], name: str) -> str | None:
    """The valid dotted key closest to a misspelt ``name`` inside ``section`` (difflib)."""
    model = _model_at(section)
    if model is None:
        return None
    found = difflib.get_close_matches(name, list(model.model_fields), n=1, cutoff=0.6)
    return ".".join([*map(str, section), found[0]]) if found else None


def _model_at(loc: list[Any]) -> type[BaseModel] | None:
    current: Any = Schema
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` → X."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (UnionType, typing.Union):
            args = [a for a in typing.get_args(annotation) if a is not NoneType]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def path_keys(model: type[BaseModel] = Schema,
              prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:  # fmt: skip
    """(dotted path, PACKAGE | WORKDIR) of every key that names a file or folder."""
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        inner = _unwrap(field.annotation)
        if "path" in extra:
            yield (*prefix, name), str(extra["path"])
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from path_keys(inner, (*prefix, name))


def _resolve_paths(raw: dict[str, Any], given: Mapping[str, Any], base_dir: Path) -> None:
    """Make every path in ``raw`` absolute: written ones against ``base_dir``, defaults against
    the shipped defaults or the current directory."""
    cwd = Path.cwd()
    for dotted, anchor in path_keys():
        section, user = raw, given
        for part in dotted[:-1]:
            section = section[part]
            user = user.get(part) if isinstance(user, Mapping) else None
        name = dotted[-1]
        value = section[name]
        if value is None:
            continue
        written = isinstance(user, Mapping) and user.get(name) is not None
        root = base_dir if written else defaults_dir() if anchor == PACKAGE else cwd
        if isinstance(value, list):
            section[name] = [str((root / v).resolve()) for v in value]
        else:
            section[name] = str((root / value).resolve())


def masked(raw: Mapping[str, Any]) -> dict[str, Any]:
    """``raw`` with passwords, tokens, secrets and a Redis URL's password replaced by ``***``."""
    from urllib.parse import urlparse

    def walk(value: Any, name: str) -> Any:
        if isinstance(value, Mapping):  # under a "secrets" map every value is one
            inner = "secret" if name in ("secrets", "hospital_tokens") else None
            return {k: walk(v, inner or str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, name) for v in value]
        if name in SECRET_NAMES and value not in (None, ""):
            return "***"
        if isinstance(value, str) and "://" in value and urlparse(value).password is not None:
            parsed = urlparse(value)
            host = parsed.netloc.rpartition("@")[2]
            return parsed._replace(netloc=f"{parsed.username or ''}:***@{host}").geturl()
        return value

    return walk(raw, "")
