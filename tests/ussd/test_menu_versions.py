"""A USSD dialogue goes on with the menu version it began on, whichever node serves its next
hop: nodes are separate menu registries, session stores and HTTP servers on one Redis, and
the menu file is edited and reloaded on one of them mid-dialogue."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.internet.task import Clock
from ussd_harness import Server, start_server

from hotreload.reloaders import MenuReloader
from menus.definition import MenuSource, load_menu, load_menu_sources
from menus.driver import Dialogue
from menus.types import EffectResult
from ussd.menu_versions import MenuVersions, version_key

MENU = """\
menu: booking
languages: [zh]
start: a
include: [parts/end.yaml]
nodes:
  a:
    type: ask
    text: {{zh: 第一问}}
    choices: {{"1": {{text: {{zh: 继续}}, next: done}}}}
"""
PART = """\
nodes:
  done: {{type: end, text: {{zh: "{word}"}}}}
"""


def write_menu(folder: Path, word: str) -> Path:
    (folder / "parts").mkdir(parents=True, exist_ok=True)
    (folder / "parts" / "end.yaml").write_text(PART.format(word=word), encoding="utf-8")
    path = folder / "booking.yaml"
    path.write_text(MENU.format(), encoding="utf-8")
    return path


@dataclass
class Node:
    server: Server
    source: MenuSource
    versions: MenuVersions
    reloader: MenuReloader


async def start_node(redis: Any, path: Path) -> Node:
    """One node as ``hotline.app`` wires one: its registry published to Redis at start, each
    reload published, versions it lacks fetched."""
    source = MenuSource([load_menu(path)])
    versions = MenuVersions(redis, source, ttl_s=3600)
    await versions.publish_all()
    reloader = MenuReloader(source, [path], Clock(), on_event=versions.on_reload)
    dialogue = Dialogue(source, lambda effect, session: EffectResult(ok=True),
                        fetch_version=versions.fetch)
    return Node(await start_server(dialogue, redis), source, versions, reloader)


async def _until(done: Any, what: str) -> None:
    for _ in range(200):
        if await defer.maybeDeferred(done):
            return
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


@pytest_twisted.ensureDeferred
async def test_a_dialogue_continues_on_its_version_on_another_node(redis, tmp_path) -> None:
    path_a = write_menu(tmp_path / "a", "旧版")
    path_b = write_menu(tmp_path / "b", "旧版")
    a, b = await start_node(redis, path_a), await start_node(redis, path_b)
    old = a.source.get("booking").version
    nodes = [a, b]
    try:
        one = {"sessionId": "s1", "phoneNumber": "+8613800138000"}
        two = {"sessionId": "s2", "phoneNumber": "+8613900139000"}
        assert (await a.server.post(one, text=""))[1].startswith("CON 第一问")  # on the old

        write_menu(tmp_path / "a", "新版")  # edited on node a only (b has not reloaded yet)
        [event] = a.reloader.reload_all()
        new = event.version
        assert event.outcome == "loaded" and new != old
        await _until(lambda: redis.exists(version_key("booking", new)), "a to publish")
        assert (await a.server.post(two, text=""))[1].startswith("CON 第一问")  # on the new

        # the reverse: b never loaded the new version, yet the dialogue begun on it ends on it
        assert not b.source.has("booking", new)
        assert await b.server.post(two, text="1") == (200, "END 新版")

        # a process started after the edit (a restart of b) holds only the new version, yet
        # the dialogue begun before the edit ends on the old one
        shutil.copytree(tmp_path / "a", tmp_path / "c")
        c = await start_node(redis, tmp_path / "c" / "booking.yaml")
        nodes.append(c)
        assert c.source.versions() == [c.source.get("booking")]
        assert c.source.get("booking").version == new
        assert await c.server.post(one, text="1") == (200, "END 旧版")
        assert c.source.has("booking", old)  # fetched once, kept for the next hops
    finally:
        for node in nodes:
            await node.server.port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_stored_version_is_rebuilt_byte_for_byte_and_lives_its_ttl(
        redis, tmp_path) -> None:
    path = write_menu(tmp_path, "旧版")
    definition = load_menu(path)
    assert load_menu_sources(definition.sources).version == definition.version
    source = MenuSource([definition])
    versions = MenuVersions(redis, source, ttl_s=900)
    await versions.publish_all()
    ttl = int(await redis.ttl(version_key("booking", definition.version)))
    assert 800 < ttl <= 900
    (tmp_path / "parts" / "end.yaml").unlink()  # the files are gone: Redis has the version
    fetched = await MenuVersions(redis, MenuSource()).fetch("booking", definition.version)
    assert fetched is not None and fetched.version == definition.version
    assert fetched.nodes == definition.nodes
    assert await versions.fetch("booking", "0" * 12) is None  # never stored (or expired)
