"""Wire the USSD channel from the ``ussd:`` settings (keys documented in docs/ussd.md).

``at_resource`` builds ``/ussd/at``; ``mount`` adds ``/ussd/hubtel`` under the same ``/ussd``
and, when ``ussd.smpp`` is set, makes the USSD-over-SMPP bind (absent: off);
``gateway_routes`` lists them for the HTTP port's lean gateway protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.web.resource import Resource

from menus.definition import MenuSource
from menus.driver import DialogueLike
from settings.schema import Settings, SettingsError
from ussd.at import AtUssdResource
from ussd.gateway import UssdGateway
from ussd.httpbase import Adapter
from ussd.hubtel import HubtelUssdResource
from ussd.menu_versions import MenuVersions
from ussd.paging import ScreenLimits
from ussd.sessions import UssdSessionStore
from ussd.smpp import UssdOpCodes, UssdSmppService
from ussd.wire import Handler

SMPP_KEYS = {"host", "port", "system_id", "password", "system_type", "ops"}


def _section(settings: Settings) -> Mapping[str, Any]:
    section = settings.raw.get("ussd") or {}
    if not isinstance(section, Mapping):
        raise SettingsError("settings: ussd must be a mapping")
    return section


def limits_for(settings: Settings, gateway: str) -> ScreenLimits:
    """``ussd.limits`` (all gateways) overridden by ``ussd.gateways.<name>.limits``."""
    section = _section(settings)
    merged = {**(section.get("limits") or {}),
              **((section.get("gateways") or {}).get(gateway, {}) or {}).get("limits", {})}
    try:
        return ScreenLimits(**merged)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"settings: ussd limits for {gateway}: {exc}") from exc


def _options(settings: Settings, gateway: str) -> dict[str, Any]:
    section = _section(settings)
    return {
        "limits": limits_for(settings, gateway),
        "timeout_s": float(section.get("timeout_s", 180)),
        "resume_s": float(section.get("resume_s", 600)),
    }


def _keep_s(settings: Settings) -> float:
    """How long a USSD record outlives its last hop: its dialogue may go on until then."""
    section = _section(settings)
    return max(float(section.get("timeout_s", 180)), float(section.get("resume_s", 600)))


def menu_versions(settings: Settings, redis: Any, menus: MenuSource) -> MenuVersions:
    """The menu versions kept in Redis for dialogues that move between nodes, each for
    ``ussd.menu_version_ttl_s`` after the last node held it, and never less than a record."""
    ttl = float(_section(settings).get("menu_version_ttl_s", 86400))
    return MenuVersions(redis, menus, ttl_s=max(ttl, _keep_s(settings)))


def store(settings: Settings, redis: Any) -> UssdSessionStore:
    section = _section(settings)
    keep = _keep_s(settings)
    cache = 20000 if section.get("node_cache", True) else 0
    return UssdSessionStore(redis, keep_s=keep, cache_size=cache)


def at_resource(settings: Settings, dialogue: DialogueLike, redis: Any,
                reactor: Any) -> AtUssdResource:
    hop_timeout = float(_section(settings).get("hop_timeout_s", 10))
    return AtUssdResource(dialogue, store(settings, redis), menu_name=settings.default_menu,
                          clock=reactor, hop_timeout_s=hop_timeout, **_options(settings, "at"))


def mount(root: Resource, settings: Settings, dialogue: DialogueLike, redis: Any,
          reactor: Any) -> UssdSmppService | None:
    """Add ``/ussd/hubtel``; when configured, the SMPP bind as a service (not started: the
    caller adds it to the service tree), else None."""
    section = _section(settings)
    hop_timeout = float(section.get("hop_timeout_s", 10))
    ussd = root.children.get(b"ussd")
    if ussd is None:
        ussd = Resource()
        root.putChild(b"ussd", ussd)
    ussd.putChild(b"hubtel", HubtelUssdResource(
        dialogue, store(settings, redis), settings.default_menu, clock=reactor,
        hop_timeout_s=hop_timeout, **_options(settings, "hubtel")))
    smpp = section.get("smpp")
    if smpp is None:
        return None
    if not isinstance(smpp, Mapping) or not {"host", "port", "system_id"} <= set(smpp):
        raise SettingsError("settings: ussd.smpp needs host, port, system_id (and password)")
    unknown = set(smpp) - SMPP_KEYS
    if unknown:
        raise SettingsError(f"settings: unknown ussd.smpp key(s): {', '.join(sorted(unknown))}")
    try:
        ops = UssdOpCodes.from_settings(dict(smpp.get("ops") or {}))
    except ValueError as exc:
        raise SettingsError(f"settings: ussd.smpp.ops: {exc}") from exc
    gateway = UssdGateway(dialogue, store(settings, redis), settings.default_menu,
                          gateway="smpp", clock=reactor, **_options(settings, "smpp"))
    service = UssdSmppService(
        gateway, str(smpp["host"]), int(smpp["port"]), str(smpp["system_id"]),
        str(smpp.get("password", "")), reactor=reactor, ops=ops,
        system_type=str(smpp.get("system_type", "USSD")),
    )
    service.setName("ussd-smpp")
    return service


def gateway_routes(root: Resource) -> dict[bytes, Handler]:
    """Every gateway adapter mounted under ``/ussd``, by path: what the HTTP port serves
    leanly (``ussd.httpport``), with the paths each adds itself (``/ussd/at/end``)."""
    routes: dict[bytes, Handler] = {}

    def walk(resource: Resource, path: bytes) -> None:
        if isinstance(resource, Adapter):
            routes.update(resource.routes(path))
        for name, child in resource.children.items():
            walk(child, path + b"/" + name)

    ussd = root.children.get(b"ussd")
    if ussd is not None:
        walk(ussd, b"/ussd")
    return routes
