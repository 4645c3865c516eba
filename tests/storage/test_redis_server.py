from pathlib import Path

import pytest_twisted

from storage.embedded import RedisProcess, find_redis_server


def test_finds_a_binary() -> None:
    assert Path(find_redis_server()).exists()


@pytest_twisted.ensureDeferred
async def test_shared_fixture_is_real_and_flushed(redis) -> None:
    assert await redis.dbsize() == 0
    await redis.set("hl:probe", "1")
    assert await redis.get("hl:probe") == "1"


def test_durable_server_writes_an_append_only_file(tmp_path: Path) -> None:
    with RedisProcess(data_dir=tmp_path, durable=True) as server:
        assert server.port > 0
    assert any(p.name.startswith("appendonly") for p in tmp_path.iterdir())
