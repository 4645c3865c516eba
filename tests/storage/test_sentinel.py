"""Several nodes share one Redis behind Sentinel: after a failover the pool finds the new master
and nothing replicated before the crash is lost. Real redis-server processes, a real Sentinel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, task

from storage.client import connect_sentinel, sentinel_settings
from storage.embedded import RedisProcess


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def start_sentinel(tmp_path: Path, master: RedisProcess) -> RedisProcess:
    home = tmp_path / "sentinel"
    home.mkdir()
    conf = home / "sentinel.conf"
    conf.write_text(
        f"sentinel monitor hl 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds hl 300\n"
        "sentinel failover-timeout hl 2000\n"
    )
    return RedisProcess(
        data_dir=home, durable=False, config_file=conf, extra_args=["--sentinel"],
        ready_line="+monitor master",
    ).start()


async def until(check: Any, *, attempts: int = 100, every: float = 0.1) -> Any:
    """Retry ``check()`` until it returns without raising; a failover takes real seconds."""
    for _ in range(attempts - 1):
        try:
            return await defer.ensureDeferred(check()).addTimeout(1, reactor())
        except Exception:
            await task.deferLater(reactor(), every, lambda: None)
    return await check()


@pytest_twisted.ensureDeferred
async def test_pool_follows_the_master_across_a_failover(tmp_path: Path) -> None:
    master = RedisProcess(data_dir=tmp_path / "master", durable=True).start()
    replica = RedisProcess(
        data_dir=tmp_path / "replica", durable=True,
        extra_args=["--replicaof", "127.0.0.1", "0"],
    )
    replica.extra_args[-1] = str(master.port)
    replica.start()
    sentinel = start_sentinel(tmp_path, master)
    pool, manager = connect_sentinel("hl", [f"127.0.0.1:{sentinel.port}"])
    try:
        await pool.set("hl:bk:1234567890", "confirmed")
        replicated = await until(lambda: pool.execute_command("WAIT", 1, 1000))
        assert int(replicated) == 1  # acknowledged by the replica before we report success
        master.kill()  # the crash
        await until(lambda: pool.set("hl:after", "1"), attempts=150)
        role = await pool.execute_command("ROLE")
        assert role[0] == "master"
        port = await pool.execute_command("CONFIG", "GET", "port")
        assert int(port[1]) == replica.port  # the promoted replica
        assert await pool.get("hl:bk:1234567890") == "confirmed"
    finally:
        await pool.disconnect()
        await manager.disconnect()
        for proc in (sentinel, replica, master):
            proc.stop()


def test_sentinel_settings_are_checked() -> None:
    assert sentinel_settings(None) is None
    ok = {"service": "hl", "addresses": ["10.0.0.1:26379"]}
    assert sentinel_settings(ok) == ok
    with pytest.raises(ValueError, match="host:port"):
        sentinel_settings({"service": "hl", "addresses": ["nohost"]})
    with pytest.raises(ValueError, match="needs 'service'"):
        sentinel_settings({"addresses": ["a:1"]})
