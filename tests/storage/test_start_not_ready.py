"""Start-up rides out a Redis that is not ready: not listening yet, refusing writes
(``NOREPLICAS`` under ``min-replicas-to-write``, ``READONLY`` as a replica).  A real
redis-server and a real HTTP port; the waits between retries run on a ``Clock``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import defer, reactor, task
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import formatEvent, globalLogPublisher

from hotline.app import start
from settings.schema import load_settings
from storage.client import connect
from storage.embedded import RedisProcess, free_port
from storage.readiness import Backoff, why_not_ready

ROOT = Path(__file__).resolve().parents[2]


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    response = await treq.get(f"http://127.0.0.1:{port}/healthz")
    return response.code, json.loads(await response.text("utf-8"))


async def _until(done: Any, what: str, limit_s: float = 20.0) -> None:
    """Wait (polling real I/O, not time) until ``done()`` is true; fail after ``limit_s``."""
    for _ in range(int(limit_s / 0.05)):
        if await defer.maybeDeferred(done):
            return
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


def settings_for(tmp_path: Path, redis_port: int, http_port: int) -> Any:
    return load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": f"redis://127.0.0.1:{redis_port}/0"}, "http": {"port": http_port},
        "ivr": {"fastagi": {"port": 0}}, "data_dir": str(tmp_path / "data")})


@pytest.fixture
def log_lines() -> Any:
    lines: list[str] = []

    def observer(event: dict[str, Any]) -> None:
        lines.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    yield lines
    globalLogPublisher.removeObserver(observer)


async def _starting_until_ready(tmp_path: Path, redis_port: int, word: str,
                                make_ready: Any, log_lines: list[str]) -> None:
    """Start against a Redis not ready (``word`` in the reason), check 503 and the log, make
    it ready, move the retry clock on: the start completes and /healthz says 200."""
    http_port = free_port()
    clock = task.Clock()
    starting = defer.ensureDeferred(start(settings_for(tmp_path, redis_port, http_port),
                                          reactor, retry_clock=clock))

    async def waiting_for_the_reason() -> bool:
        try:
            status, body = await healthz(http_port)
        except Exception:  # the port is not bound yet
            return False
        return status == 503 and word in body.get("redis", "")

    await _until(waiting_for_the_reason, f"/healthz to say 503 with {word}")
    clock.advance(60)  # retries go on while Redis is not ready: the reason is logged each time
    await _until(lambda: len([x for x in log_lines if "redis.not_ready" in x]) >= 2,
                 "a second logged retry")
    assert not starting.called
    waits = [x for x in log_lines if "redis.not_ready" in x]
    assert word in waits[0] and "attempt=1" in waits[0] and "retry_in_s=" in waits[0]
    await make_ready()
    clock.advance(60)
    running = await starting
    try:
        status, body = await healthz(http_port)
        assert (status, body["status"]) == (200, "ok")
        assert running.http_port == http_port
        assert [x for x in log_lines if "redis.ready after_attempts=" in x]
    finally:
        await running.stop()


@pytest_twisted.ensureDeferred
async def test_a_redis_that_starts_late_is_waited_for(tmp_path, log_lines) -> None:
    redis_port = free_port()
    server = RedisProcess(data_dir=tmp_path / "redis", port=redis_port, durable=False)

    async def start_redis() -> None:
        server.start()

    try:
        await _starting_until_ready(tmp_path, redis_port, "refused", start_redis, log_lines)
    finally:
        server.stop()


@pytest.mark.parametrize(("args", "fix", "word"), [
    (["--min-replicas-to-write", "1"], ["CONFIG", "SET", "min-replicas-to-write", "0"],
     "NOREPLICAS"),
    (["--replicaof", "127.0.0.1", "1"], ["REPLICAOF", "NO", "ONE"], "READONLY"),
])
@pytest_twisted.ensureDeferred
async def test_a_redis_refusing_writes_is_waited_for(tmp_path, log_lines, args, fix,
                                                     word) -> None:
    server = RedisProcess(data_dir=tmp_path / "redis", port=free_port(), durable=False,
                          extra_args=args).start()

    async def make_ready() -> None:
        admin = await connect(server.url, reconnect=False)
        try:
            await admin.execute_command(*fix)
        finally:
            await admin.disconnect()

    try:
        await _starting_until_ready(tmp_path, server.port, word, make_ready, log_lines)
    finally:
        server.stop()


class _Loading(Protocol):
    """A Redis still loading its data set: every command is answered ``-LOADING``."""

    def dataReceived(self, data: bytes) -> None:
        for _ in range(data.count(b"*")):  # one error reply per command (RESP arrays)
            self.transport.write(b"-LOADING Redis is loading the dataset in memory\r\n")


@pytest_twisted.ensureDeferred
async def test_a_redis_still_loading_is_waited_for(tmp_path, log_lines) -> None:
    redis_port = free_port()
    loading = reactor.listenTCP(redis_port, Factory.forProtocol(_Loading), interface="127.0.0.1")
    server = RedisProcess(data_dir=tmp_path / "redis", port=redis_port, durable=False)

    async def loaded() -> None:  # the same port now answers as a Redis that has loaded
        await loading.stopListening()
        server.start()

    try:
        await _starting_until_ready(tmp_path, redis_port, "LOADING", loaded, log_lines)
    finally:
        await defer.maybeDeferred(loading.stopListening)
        server.stop()


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    backoff = Backoff(0.5, 30.0)
    assert [backoff.delay(n, lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(50, lambda: 1.0) == 30.0
    assert backoff.delay(3, lambda: 0.0) == 1.0  # the lower half is never drawn
    assert why_not_ready(Exception("LOADING Redis is loading the dataset in memory")).startswith(
        "LOADING")
