"""``/metrics`` on a node of several processes: whichever process answers the scrape shows the
whole node (its own counts plus the others' last snapshots, exchanged through the main process
every second). The exchange runs here over real pipes' framing on a Clock."""

from __future__ import annotations

import os
from typing import Any

import pytest_twisted
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hotline.metrics import Metrics, valid_snapshot
from hotline.node import Node
from hotline.nodelink import LineBuffer, MainLink, encode
from hotline.workers import Supervisor, WorkerProcess


def _messages(transport: StringTransport) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    LineBuffer(got.append).feed(transport.value())
    transport.clear()
    return got


def _metrics(calls: int, **http: int) -> Metrics:
    metrics = Metrics()
    metrics.gauge("hotline_fastagi_calls", "Calls.", lambda: calls, summed=True)
    metrics.gauge("hotline_redis_up", "Up.", lambda: 1.0)
    for path, n in http.items():
        for _ in range(n):
            metrics.count_http(f"/{path}".encode(), 200)
    return metrics


def _value(text: str, line_start: str) -> float:
    (line,) = [x for x in text.splitlines() if x.startswith(line_start)]
    return float(line.rsplit(" ", 1)[1])


@pytest_twisted.ensureDeferred
async def test_a_scrape_adds_the_other_processes_counts() -> None:
    here, other = _metrics(3, healthz=2, ussd=5), _metrics(4, healthz=7)
    here.peers = [other.snapshot()]
    text = await here.render()
    assert _value(text, 'hotline_http_requests_total{path="/healthz",code="200"}') == 9
    assert _value(text, 'hotline_http_requests_total{path="/ussd",code="200"}') == 5
    assert _value(text, "hotline_fastagi_calls ") == 7  # per-process gauge: added up
    assert _value(text, "hotline_redis_up ") == 1  # node-wide gauge: not added up
    assert _value(text, "hotline_processes ") == 2


def test_snapshots_that_would_break_a_scrape_are_refused() -> None:
    good = _metrics(1, healthz=1).snapshot()
    assert valid_snapshot(good)
    for bad in (None, [], {**good, "pid": "1"}, {**good, "http": [["/x", "200", 1]]},
                {**good, "http": [["/x", 200]]}, {**good, "gauges": {"g": "many"}},
                {**good, "gauges": {"g": True}}):
        assert not valid_snapshot(bad), bad


def _supervisor(clock: Clock, metrics: Metrics) -> tuple[Supervisor, WorkerProcess]:
    supervisor = Supervisor(clock, 1, {}, {}, metrics=metrics)
    worker = WorkerProcess(supervisor, 1)
    worker.transport = StringTransport()  # type: ignore[assignment]
    supervisor.workers[1] = worker
    supervisor._watch.start(1.0, now=False)  # what start() runs once the workers are spawned
    return supervisor, worker


@pytest_twisted.ensureDeferred
async def test_the_main_process_relays_every_snapshot_and_forgets_an_ended_worker() -> None:
    clock, main = Clock(), _metrics(2, healthz=1)
    supervisor, worker = _supervisor(clock, main)
    from_worker = {**_metrics(5, healthz=4).snapshot(), "pid": 4242}
    worker.childDataReceived(3, encode({"op": "metrics", "snapshot": from_worker}))
    worker.childDataReceived(3, encode({"op": "metrics", "snapshot": {"pid": "junk"}}))
    clock.advance(1.0)
    (sent,) = _messages(worker.transport)  # type: ignore[arg-type]
    assert sent["op"] == "peers"
    assert [s["pid"] for s in sent["snapshots"]] == [os.getpid(), 4242]
    assert main.peers == [from_worker]  # the junk one did not replace it
    assert _value(await main.render(), "hotline_fastagi_calls ") == 7

    from twisted.internet.error import ProcessDone
    from twisted.python.failure import Failure

    supervisor.stopping = True  # a stop: no restart is scheduled
    supervisor.ended(worker, Failure(ProcessDone(0)))
    clock.advance(1.0)
    assert main.peers == []
    assert _value(await main.render(), "hotline_processes ") == 1
    supervisor._watch.stop()


@pytest_twisted.ensureDeferred
async def test_a_worker_reports_every_second_and_keeps_only_the_others() -> None:
    clock, metrics = Clock(), _metrics(1, ussd=3)
    link = MainLink()
    link.transport = StringTransport()  # type: ignore[assignment]
    link.dataReceived(encode({"op": "boot"}))
    stop = Node.worker(link, {}).share_metrics(metrics, clock)
    assert stop is not None
    first = _messages(link.transport)  # type: ignore[arg-type]
    assert [m["op"] for m in first] == ["metrics"] and first[0]["snapshot"]["pid"] == os.getpid()
    metrics.count_http(b"/ussd/at", 200)
    clock.advance(1.0)
    (second,) = _messages(link.transport)  # type: ignore[arg-type]
    assert ["/ussd/at", 200, 1] in second["snapshot"]["http"]

    mine, main = metrics.snapshot(), {**_metrics(2, healthz=9).snapshot(), "pid": 1}
    link.dataReceived(encode({"op": "peers", "snapshots": [main, mine]}))
    assert metrics.peers == [main]
    text = await metrics.render()
    assert _value(text, 'hotline_http_requests_total{path="/healthz",code="200"}') == 9
    assert _value(text, "hotline_fastagi_calls ") == 3
    stop()
    clock.advance(5.0)
    assert _messages(link.transport) == []  # type: ignore[arg-type]
