"""``log.format: json`` on a real ``hotline serve`` of two processes: every line either
process writes is one JSON object with the stable keys, phone numbers masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest_twisted
from log_scan import leaked_numbers
from test_workers import connections_to, started, stop
from workers_support import NodeProcess, write_config

PHONE = "13912345670"


@pytest_twisted.ensureDeferred
async def test_both_processes_write_one_json_object_per_line(
    tmp_path: Path, redis_url: str, redis: Any
) -> None:
    config = write_config(tmp_path, redis_url, workers=2)
    config.write_text(config.read_text() + "log: {format: json}\n")
    node = NodeProcess.start(config)
    try:
        http, _, worker = await started(node)
        conns = await connections_to(http, {node.pid, worker})
        for n, conn in enumerate(conns.values()):
            form = f"sessionId=j-{n}&serviceCode=*12580%23&phoneNumber={PHONE}&text="
            code, _ = await conn.request(b"POST", b"/ussd/at", form.encode())
            assert code == 200
        await node.line(r'"event": "ussd\.hop".*"gateway": "at"')
        for conn in conns.values():
            conn.close()
    finally:
        await stop(node)
    bad = [line for line in node.lines if line.strip() and not line.startswith("{")]
    assert not bad, bad
    records = [json.loads(line) for line in node.lines if line.strip()]
    assert all(list(r)[:3] == ["ts", "level", "event"] and "msg" in r for r in records)
    events = [r["event"] for r in records]
    assert events.count("hotline.started") == 2 and "workers.ready" in events
    hops = [r for r in records if r["event"] == "ussd.hop"]
    assert len(hops) == 2, hops
    assert all(h["msisdn"].endswith("5670") and set(h["msisdn"][:-4]) == {"*"} for h in hops)
    assert {r["role"] for r in records if r["event"] == "hotline.started"} == {"main", "worker"}
    assert not [line for line in node.lines if leaked_numbers(line)]
