"""``GET /metrics`` in the Prometheus text format.

Counters are bumped by the shells (HTTP requests here); gauges are read at scrape time from
callables the composition root registers (live AGI calls, SMS waiting, Redis reachability), so
nothing is stored twice.

A node of several processes (``node.workers``) answers a scrape from whichever process accepted
it, so every process renders the whole node: its own counts plus the latest ``snapshot()`` of
each other process (``peers``, exchanged every second through the main process; see
``hotline.node``). Counters and the per-process gauges (``summed``) are added up.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

Gauge = Callable[[], float | Awaitable[float]]
Snapshot = dict[str, Any]  # {"pid": int, "http": [[path, code, n], ...], "gauges": {name: x}}


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.http: Counter[tuple[str, int]] = Counter()
        self.gauges: dict[str, tuple[str, Gauge]] = {}
        self.summed: set[str] = set()  # gauges that count per process (added up node-wide)
        self.peers: list[Snapshot] = []  # the node's other processes, as they last reported

    def gauge(self, name: str, help_text: str, read: Gauge, *, summed: bool = False) -> None:
        self.gauges[name] = (help_text, read)
        if summed:
            self.summed.add(name)

    def snapshot(self) -> Snapshot:
        """This process's counts for the others of the node (JSON-able, sync gauges only)."""
        gauges: dict[str, float] = {}
        for name in self.summed:
            value = self.gauges[name][1]()
            if isinstance(value, int | float):
                gauges[name] = float(value)
        return {"pid": os.getpid(), "http": [[p, c, n] for (p, c), n in self.http.items()],
                "gauges": gauges}

    def _node_http(self) -> Counter[tuple[str, int]]:
        total = Counter(self.http)
        for peer in self.peers:
            for path, code, n in peer.get("http", []):
                total[(str(path), int(code))] += int(n)
        return total

    def count_http(self, path: bytes, code: int) -> None:
        first = path.split(b"?", 1)[0].decode("ascii", "replace").strip("/").split("/")[:2]
        self.http[("/" + "/".join(first), code)] += 1

    async def render(self) -> str:
        lines = [
            "# HELP hotline_uptime_seconds Seconds since the process started.",
            "# TYPE hotline_uptime_seconds gauge",
            f"hotline_uptime_seconds {time.time() - self.started:.3f}",
            "# HELP hotline_http_requests_total HTTP requests by path prefix and status.",
            "# TYPE hotline_http_requests_total counter",
        ]
        for (path, code), n in sorted(self._node_http().items()):
            lines.append(f'hotline_http_requests_total{{path="{path}",code="{code}"}} {n}')
        lines += ["# HELP hotline_processes Processes of this node whose counts are included.",
                  "# TYPE hotline_processes gauge", f"hotline_processes {1 + len(self.peers)}"]
        for name, (help_text, read) in sorted(self.gauges.items()):
            value: Any = read()
            if hasattr(value, "__await__") or isinstance(value, Deferred):
                try:
                    value = await value
                except Exception:
                    value = float("nan")
            if name in self.summed:
                value = float(value) + sum(p.get("gauges", {}).get(name, 0.0) for p in self.peers)
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"


def valid_snapshot(value: Any) -> bool:
    """A snapshot as ``Metrics.snapshot`` makes it (a bad one must not break every scrape)."""
    if not isinstance(value, dict) or not isinstance(value.get("pid"), int):
        return False
    http, gauges = value.get("http"), value.get("gauges")
    return (isinstance(http, list) and isinstance(gauges, dict)
            and all(isinstance(row, list) and len(row) == 3 and isinstance(row[0], str)
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in row[1:])
                    for row in http)
            and all(isinstance(x, int | float) and not isinstance(x, bool)
                    for x in gauges.values()))


class MetricsResource(Resource):
    isLeaf = True

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.metrics = metrics

    def render_GET(self, request: Request) -> object:
        async def run() -> None:
            body = (await self.metrics.render()).encode()
            request.setHeader(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
            request.write(body)
            request.finish()

        ensureDeferred(run())
        return NOT_DONE_YET


class CountingSite(Site):
    """A Site that counts each finished request (instead of an access log line per request)."""

    def __init__(self, resource: Resource, metrics: Metrics, **kwargs: Any) -> None:
        # Our resources read their bodies themselves (JSON, or ussd's form_fields): Twisted's
        # POST form parsing (``email.message`` per request) is costly work for nothing.
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(resource, **kwargs)
        self.metrics = metrics

    def log(self, request: Request) -> None:
        self.metrics.count_http(request.uri, request.code)


def register_gauges(metrics: Metrics, *, redis: Any, agi_factory: Any, sender: Any) -> None:
    """The gauges every node exports; each reads live state at scrape time."""

    async def redis_up() -> float:
        try:
            await redis.ping()
        except Exception:
            return 0.0
        return 1.0

    metrics.gauge("hotline_redis_up", "1 when Redis answers a PING.", redis_up)
    metrics.gauge(
        "hotline_fastagi_calls", "Calls in progress on this node.",
        lambda: len(agi_factory.active), summed=True,
    )
    metrics.gauge(
        "hotline_sms_link_bound", "1 when the SMPP bind is up.", lambda: float(bool(sender.bound))
    )
