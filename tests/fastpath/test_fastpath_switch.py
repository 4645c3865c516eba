"""The switch: ``node.fast_path`` in the settings, ``HOTLINE_FAST_PATH`` over it (CI, benches)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.logger import formatEvent, globalLogPublisher

import fastpath
from fastpath import PIECES, configure
from hotline.app import start
from settings.schema import load_settings


@pytest.fixture
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fastpath, "_on", fastpath._on)  # put back whatever this run uses


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize(("env", "setting", "on"), [
    (None, True, PIECES),
    (None, False, frozenset()),
    ("0", True, frozenset()),
    ("1", False, PIECES),
    (" send, redis ", False, frozenset({"send", "redis"})),
    ("", False, frozenset()),  # empty: as if unset
])
def test_the_environment_wins_over_the_setting(monkeypatch: pytest.MonkeyPatch, env: str | None,
                                               setting: bool, on: frozenset[str]) -> None:
    if env is None:
        monkeypatch.delenv(fastpath.ENV, raising=False)
    else:
        monkeypatch.setenv(fastpath.ENV, env)
    assert configure(setting) == on == fastpath.pieces()
    assert all(fastpath.enabled(piece) is (piece in on) for piece in PIECES)


@pytest.mark.usefixtures("restored")
def test_an_unknown_piece_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fastpath.ENV, "send,turbo")
    with pytest.raises(ValueError, match="turbo"):
        configure(True)


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize("on", [True, False])
@pytest_twisted.ensureDeferred
async def test_the_server_takes_node_fast_path_from_its_settings(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, tmp_path: Path, on: bool
) -> None:
    monkeypatch.delenv(fastpath.ENV, raising=False)
    monkeypatch.setattr(fastpath, "_on", frozenset() if on else PIECES)  # the other way round
    settings = load_settings(Path(__file__).parents[2] / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path / "data"), "node": {"fast_path": on}})
    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        running = await start(settings, reactor)
    finally:
        globalLogPublisher.removeObserver(logged.append)
    try:
        assert fastpath.pieces() == (PIECES if on else frozenset())
        started = [formatEvent(e) for e in logged if "hotline.started" in e.get("log_format", "")]
        assert started[0].endswith(" fast_path=http,redis,send" if on else " fast_path=off")
    finally:
        await running.stop()
