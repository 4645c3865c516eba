"""Hot reload: 100 sessions mid-flow finish on the version they started on; new sessions get the
new one; a broken edit is rejected with file:line and service goes on unchanged; SIGHUP reloads."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest_twisted
from deferred_support import finished_value
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher

from hotreload.reloaders import MenuReloader, ReloadEvent, install_sighup
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue
from menus.types import Digits, EffectResult

MENU = """\
menu: m
languages: [zh]
start: a
nodes:
  a:
    type: ask
    text: {{zh: 第一问}}
    choices: {{"1": {{text: {{zh: 继续}}, next: load}}}}
  load: {{type: act, effect: items, save: items, next: b}}
  b:
    type: ask
    text: {{zh: 第二问}}
    list: items
    save: item
    next: done
  done: {{type: end, text: {{zh: "{word}：{{item.name}}"}}}}
"""


_result = finished_value


def _effects(effect: Any, session: Any) -> EffectResult:
    return EffectResult(ok=True, value=[{"id": "x", "name": "内科"}])


def _setup(tmp_path: Path) -> tuple[Path, MenuSource, Dialogue, MenuReloader, list[ReloadEvent]]:
    path = tmp_path / "m.yaml"
    path.write_text(MENU.format(word="旧版"), encoding="utf-8")
    source = MenuSource([load_menu(path)])
    events: list[ReloadEvent] = []
    reloader = MenuReloader(source, [path], Clock(), 2.0, on_event=events.append)
    return path, source, Dialogue(source, _effects), reloader, events


def test_sessions_in_flight_finish_on_their_version_new_ones_get_the_new(tmp_path: Path) -> None:
    path, source, dialogue, reloader, events = _setup(tmp_path)
    reloader.start()
    old = source.get("m").version
    sessions = []
    for _ in range(100):
        session, _ = _result(dialogue.begin("m", channel="ussd", msisdn=""))
        session, out = _result(dialogue.resume(session, Digits("1")))
        assert out.text().startswith("第二问")
        sessions.append(session)
    path.write_text(MENU.format(word="新版"), encoding="utf-8")
    reloader.clock.advance(1.9)
    assert events == []  # not yet polled
    reloader.clock.advance(0.1)
    assert [e.outcome for e in events] == ["loaded"] and source.get("m").version != old
    for session in sessions:
        done, out = _result(dialogue.resume(session, Digits("1")))
        assert out.ends and out.text() == "旧版：内科" and done.version == old
    fresh, _ = _result(dialogue.begin("m", channel="ussd", msisdn=""))
    fresh, _ = _result(dialogue.resume(fresh, Digits("1")))
    _, out = _result(dialogue.resume(fresh, Digits("1")))
    assert out.text() == "新版：内科"
    reloader.stop()


def test_a_broken_edit_is_rejected_with_file_line_and_service_is_unchanged(
    tmp_path: Path,
) -> None:
    path, source, dialogue, reloader, events = _setup(tmp_path)
    logged: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        reloader.start()
        before = source.get("m")
        path.write_text(MENU.format(word="坏").replace("next: done", "next: gone"), "utf-8")
        reloader.clock.advance(2.0)
        reloader.clock.advance(2.0)  # a broken file is reported once, not every poll
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert [e.outcome for e in events] == ["rejected"]
    assert events[0].errors == (f"{path}:15:11: node 'b': next 'gone' does not exist",)
    assert any(f"{path}:15:11" in str(e.get("error", "")) for e in logged)
    assert source.get("m") is before
    session, _ = _result(dialogue.begin("m", channel="ussd", msisdn=""))
    session, _ = _result(dialogue.resume(session, Digits("1")))
    _, out = _result(dialogue.resume(session, Digits("1")))
    assert out.text() == "旧版：内科"
    path.write_text(MENU.format(word="修好"), encoding="utf-8")
    reloader.clock.advance(2.0)
    assert [e.outcome for e in events] == ["rejected", "loaded"]
    reloader.stop()


def test_an_edit_that_leaves_a_node_unreachable_is_rejected(tmp_path: Path) -> None:
    path, source, _, reloader, events = _setup(tmp_path)
    before = source.get("m")
    path.write_text(
        MENU.format(word="x") + "  orphan: {type: end, text: {zh: 孤}}\n", encoding="utf-8"
    )
    reloader.poll()
    assert events[0].outcome == "rejected" and "never reached" in events[0].errors[0]
    assert source.get("m") is before


def test_an_included_file_is_watched_too(tmp_path: Path) -> None:
    (tmp_path / "end.yaml").write_text(
        'nodes:\n  done: {type: end, text: {zh: "一：{item.name}"}}\n', encoding="utf-8"
    )
    path = tmp_path / "m.yaml"
    text = MENU.format(word="x").split("  done:")[0]
    path.write_text(text.replace("nodes:", "include: [end.yaml]\nnodes:", 1), encoding="utf-8")
    source = MenuSource([load_menu(path)])
    events: list[ReloadEvent] = []
    reloader = MenuReloader(source, [path], Clock(), on_event=events.append)
    assert reloader.poll() == []
    (tmp_path / "end.yaml").write_text(
        'nodes:\n  done: {type: end, text: {zh: "二：{item.name}"}}\n', encoding="utf-8"
    )
    assert [e.outcome for e in reloader.poll()] == ["loaded"]
    assert source.get("m").nodes["done"].text["zh"].source == "二：{item.name}"


@pytest_twisted.ensureDeferred
async def test_sighup_reloads_every_file(tmp_path: Path) -> None:
    from twisted.internet import reactor

    path, source, _, reloader, _ = _setup(tmp_path)
    loaded: Deferred[ReloadEvent] = Deferred()
    reloader.on_event = loaded.callback
    uninstall = install_sighup(reactor, reloader)
    try:
        path.write_text(MENU.format(word="信号"), encoding="utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        event = await loaded
    finally:
        uninstall()
    assert event.outcome == "loaded"
    assert source.get("m").nodes["done"].text["zh"].source == "信号：{item.name}"
