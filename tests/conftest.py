"""Shared fixtures: one real redis-server for the whole run, flushed before each test.

Set REDIS_URL to use a running server instead (it is flushed too: never point it at real data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from log_scan import LogScan
from twisted.logger import LogLevel, globalLogPublisher

from logs.output import configure_structlog
from storage.client import connect
from storage.embedded import RedisProcess


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    data_dir: Path = tmp_path_factory.mktemp("redis")
    with RedisProcess(data_dir=data_dir, durable=False) as server:
        yield server.url


@pytest_twisted.async_yield_fixture
async def redis(redis_url: str):
    """A txredisapi connection to a flushed database."""
    conn = await connect(redis_url, reconnect=False)
    await conn.flushdb()
    yield conn
    await conn.disconnect()


@pytest.fixture
def logged_errors() -> Iterator[list[Any]]:
    """The format of every event logged at error or critical, or with a failure, meanwhile."""
    seen: list[Any] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("log_level") in (LogLevel.error, LogLevel.critical) or "log_failure" in event:
            seen.append(event.get("log_format") or event)

    globalLogPublisher.addObserver(observer)
    yield seen
    globalLogPublisher.removeObserver(observer)


@pytest.fixture(autouse=True)
def no_full_numbers_in_logs() -> Iterator[LogScan]:
    """Every log line of every test, rendered as hotline writes it (text and JSON, masked),
    must hold no full phone or ID number (tests/log_scan.py)."""
    scan = LogScan()
    globalLogPublisher.addObserver(scan)
    configure_structlog("debug", scan.text)
    yield scan
    globalLogPublisher.removeObserver(scan)
    leaks = scan.leaks()
    assert not leaks, "a full phone or ID number in a log line:\n" + "\n".join(leaks[:5])


@pytest.fixture
def fast_path_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every piece of the fast path on for this test, whatever HOTLINE_FAST_PATH says: for the
    tests of the fast path itself (tests/fastpath/), which CI also runs with it off."""
    import fastpath

    monkeypatch.setattr(fastpath, "_on", fastpath.PIECES)
