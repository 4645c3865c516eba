"""Every menu version a live dialogue may still use, kept in Redis by content hash.

A USSD dialogue's record (``ussd.sessions``) pins the menu version it began on (the content
hash, ``Session.version``), and any node may serve its next hop.  A node that never loaded
that version (it started after the menu was edited, or it has not reloaded yet) fetches it
from here: ``hl:menu:{<name>}:<version>``, a hash of the files that version was parsed from
(the menu file and its includes, field = path, value = text, plus ``$order``), rebuilt with
``menus.definition.load_menu_sources`` (same bytes, same hash: checked).

Each process publishes what it loads (at start and at each reload) and re-publishes every
version it holds every quarter of ``ttl_s``, so a version lives in Redis while any node holds
it and ``ttl_s`` after the last one let it go; ``ttl_s`` is at least the USSD record's lifetime.
An IVR call needs none of this: it lives on one FastAGI socket in one process, which holds the
version it began on for as long as the call lasts.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from menus.definition import MenuDefinition, MenuError, MenuSource, load_menu_sources

log = Logger(namespace="hotline.menus")

ORDER = "$order"


def version_key(name: str, version: str) -> str:
    return f"hl:menu:{{{name}}}:{version}"


class MenuVersions:
    """Publishes the versions ``source`` holds and fetches the ones it lacks."""

    def __init__(self, redis: Any, source: MenuSource, *, ttl_s: float = 86400) -> None:
        self.redis = redis
        self.source = source
        self.ttl_s = int(ttl_s)

    async def publish(self, definition: MenuDefinition) -> None:
        """Store ``definition``'s sources (again) and restart its time to live."""
        if not definition.sources:
            return  # built in code, not from files: nothing another node could rebuild it from
        key = version_key(definition.name, definition.version)
        fields: list[str] = [ORDER, json.dumps([name for name, _ in definition.sources])]
        for name, data in definition.sources:
            fields += [name, data.decode("utf-8")]  # menu files are UTF-8 (the loader checks)
        await self.redis.execute_command("HSET", key, *fields)
        await self.redis.execute_command("EXPIRE", key, self.ttl_s)

    async def publish_all(self) -> None:
        for definition in self.source.versions():
            await self.publish(definition)

    async def fetch(self, name: str, version: str) -> MenuDefinition | None:
        """The stored ``version`` of menu ``name``, or None (never stored, or expired)."""
        raw = await self.redis.execute_command("HGETALL", version_key(name, version))
        stored = dict(zip(raw[::2], raw[1::2], strict=True)) if isinstance(raw, list) else raw
        if not stored or ORDER not in stored:
            return None
        try:
            order = json.loads(stored[ORDER])
            definition = load_menu_sources([(n, str(stored[n]).encode("utf-8")) for n in order])
        except (KeyError, ValueError, MenuError) as exc:
            log.error("menus.stored_version_unusable menu={menu} version={version} why={why}",
                      menu=name, version=version, why=str(exc))
            return None
        if (definition.name, definition.version) != (name, version):
            log.error("menus.stored_version_mismatch menu={menu} version={version}",
                      menu=name, version=version)
            return None
        log.info("menus.version_fetched menu={menu} version={version}", menu=name,
                 version=version)
        return definition

    def on_reload(self, event: Any) -> None:
        """``hotreload.reloaders`` hook: publish a version as soon as this process loads it."""
        if event.outcome != "loaded":
            return
        definition = self.source.get(event.menu, event.version)
        d = Deferred.fromCoroutine(self.publish(definition))
        d.addErrback(lambda f: log.warn("menus.publish_failed why={why}",
                                        why=f.getErrorMessage()))

    def republish(self) -> Deferred[None]:
        """Every version held, again (a failure is logged: the next round tries again)."""
        d = Deferred.fromCoroutine(self.publish_all())
        return d.addErrback(lambda f: log.warn("menus.publish_failed why={why}",
                                               why=f.getErrorMessage()))

    @property
    def republish_every_s(self) -> float:
        """How often to ``republish``: four times per time to live, so a version in use never
        expires between two rounds."""
        return max(self.ttl_s / 4, 1.0)
