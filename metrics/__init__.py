"""``GET /metrics``: the node's Prometheus families, through ``prometheus_client``.

Three kinds of family (the list, with labels, is in docs/operations.md#metrics):

- counters and histograms the shells bump as things happen (USSD hops, AGI commands, bookings,
  SMS submits and receipts, Redis round trips, HTTP requests by route). Label values come from
  small fixed sets: a route template, never the raw path, so a client cannot grow the series.
  The hot paths keep the children they use (``Families.hops``, ``Routes``): a hop looks up
  no labels. With one process, what they count per hop and per Redis round trip (hops, hop
  times, Redis round trips, HTTP requests by route) is tallied in plain numbers and moved into
  the families by ``flush`` before every collection of ``REGISTRY`` and at each ``/metrics``
  scrape, so a scrape shows every hop: a prometheus_client counter increment or histogram
  observation takes a lock per value. With several processes they count straight into the
  families (another process's scrape reads them from the files at once).
- per-process gauges (live USSD dialogues, calls, processes; the SMPP binds, which only the
  main process holds) set by ``LocalGauges.refresh``.
- node-wide facts read at scrape time (``ScrapeFacts``): outbox depth and the age of its oldest
  message, holds outstanding, Redis reachability. They live in Redis, so whichever process
  answers reads them once; they are not per-process values.

With ``node.workers`` > 1 the main process calls ``use_multiprocess`` before it spawns the
workers: ``PROMETHEUS_MULTIPROC_DIR`` names an emptied ``<data_dir>/metrics``, the workers
inherit it (their prometheus_client starts in multiprocess mode) and the main makes its own
families again on file-backed values. Every process writes its values to files there and a
scrape in any process reads them all (prometheus_client's multiprocess mode), so one scrape
shows the whole node.
"""

from __future__ import annotations

import os
import shutil
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from twisted.internet.defer import ensureDeferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

log = Logger()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry(auto_describe=False)  # ours only: no default process collectors
disable_created_metrics()  # no ``*_created`` series beside each counter: half the series

# A hop is a few ms at the server; a gateway gives up after seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# AGI commands include the caller's time: a prompt played, digits typed.
_AGI = (0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
_REDIS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class _Count:
    """A counter child's increments not yet moved into it (``flush``)."""

    __slots__ = ("child", "n")

    def __init__(self, child: Any) -> None:
        self.child, self.n = child, 0
        _PENDING.append(self)

    def flush(self) -> None:
        if self.n:
            n, self.n = self.n, 0
            self.child.inc(n)


class _Observed:
    """A histogram child's observations not yet moved into it: a count per bucket (the
    first bucket whose bound is at or above the value, as ``Histogram.observe`` counts) and
    their sum."""

    __slots__ = ("bounds", "buckets", "child", "sum")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.bounds = list(child._upper_bounds)  # the last is +Inf: every value has a bucket
        self.buckets = [0] * len(self.bounds)
        self.sum = 0.0
        _PENDING.append(self)

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def flush(self) -> None:
        buckets = self.buckets
        if not any(buckets):
            return
        self.buckets = [0] * len(buckets)
        total, self.sum = self.sum, 0.0
        child = self.child
        # prometheus_client has no call that adds many observations at once: add each
        # bucket's count and the sum to the values ``observe`` would have incremented (its
        # private ``_buckets``/``_sum``/``_upper_bounds``: tests/metrics/test_metrics_tallies.py
        # checks the result against ``Histogram.observe``, so an upgrade that changes them fails)
        for i, n in enumerate(buckets):
            if n:
                child._buckets[i].inc(n)
        child._sum.inc(total)


_PENDING: list[_Count | _Observed] = []


def flush() -> None:
    """Move the hot paths' tallies into their families (see the module docstring)."""
    for pending in _PENDING:
        pending.flush()


class _Flush:
    """Registered in ``REGISTRY`` before the families: a collection flushes first."""

    def collect(self) -> Iterator[Metric]:
        flush()
        return iter(())


REGISTRY.register(_Flush())  # type: ignore[arg-type]


def _counter(name: str, doc: str, labels: list[str]) -> Counter:
    return Counter(name, doc, labels, registry=REGISTRY)


def _histogram(name: str, doc: str, labels: list[str], buckets: tuple[float, ...]) -> Histogram:
    return Histogram(name, doc, labels, buckets=buckets, registry=REGISTRY)


def _live_sum(name: str, doc: str) -> Gauge:
    return Gauge(name, doc, registry=REGISTRY, multiprocess_mode="livesum")


class Families:
    """Every family this process counts into, registered in ``REGISTRY``."""

    def __init__(self) -> None:
        self.ussd_hops = _counter(
            "hotline_ussd_hops", "USSD hops by gateway and outcome (new, step, page, retry, "
            "ended, error, busy, timeout, ...).", ["gateway", "outcome"])
        self.ussd_hop_seconds = _histogram(
            "hotline_ussd_hop_seconds", "Server time of a USSD hop.", ["gateway"], _FAST)
        self.ivr_commands = _counter(
            "hotline_ivr_commands", "AGI commands sent, by command and outcome (ok, failed, "
            "error, timeout, hangup).", ["command", "outcome"])
        self.ivr_command_seconds = _histogram(
            "hotline_ivr_command_seconds", "From an AGI command sent to its reply (prompts "
            "and caller input included).", ["command"], _AGI)
        self.bookings = _counter(
            "hotline_bookings", "Booking operations by outcome (taken, held, full, duplicate, "
            "limit, barred, cancelled, checked_in, no_show, ...) and channel.",
            ["outcome", "channel"])
        self.sms_submits = _counter(
            "hotline_sms_submits", "SMS submits settled, by status (submitted: the SMSC took "
            "it; retry; failed: given up).", ["status"])
        self.sms_receipts = _counter(
            "hotline_sms_receipts", "SMS delivery receipts by stat (DELIVRD, UNDELIV, "
            "EXPIRED, ...).", ["stat"])
        self.redis_seconds = _histogram(
            "hotline_redis_roundtrip_seconds", "Redis command round trips.", [], _REDIS)
        self.http_requests = _counter(
            "hotline_http_requests", "HTTP requests by route template and status.",
            ["route", "code"])
        self.ussd_dialogues = _live_sum(
            "hotline_ussd_dialogues_active",
            "USSD dialogues in progress (a hop within the timeout, not ended).")
        self.ivr_calls = _live_sum("hotline_ivr_calls_active", "FastAGI calls in progress.")
        self.processes = _live_sum("hotline_processes", "Live processes of this node.")
        self.smpp_bound = Gauge("hotline_smpp_bound", "1 while the SMPP bind is up.", ["bind"],
                                registry=REGISTRY, multiprocess_mode="livemax")
        # the hot paths' children, with their tallies (used with one process only)
        self.tally = not os.environ.get(MULTIPROC_ENV)
        self.hops: dict[tuple[str, str], _Count] = {}
        self.hop_seconds: dict[str, _Observed] = {}
        self.redis_pending = _Observed(self.redis_seconds) if self.tally else None


F = Families()


# HopReply.kind, and what the wire adapters record (ussd.gateway.HopEvent)
OUTCOMES = frozenset({"new", "step", "page", "retry", "offer", "resumed", "expired", "ended",
                      "stale", "mismatch", "error", "busy", "abort", "timeout", "release"})
AGI_COMMANDS = frozenset({"ANSWER", "HANGUP", "STREAM", "GET", "SAY", "EXEC", "SET", "WAIT",
                          "VERBOSE", "NOOP", "CONTROL", "RECORD", "CHANNEL", "DATABASE"})
CHANNELS = frozenset({"ussd", "ivr", "sms", "kiosk", "onsite", "desk", "reserve", "referral",
                      "admin", "web", "app", "sweep", "terminal"})
BOOKING_CODES = {"full": "full", "duplicate": "duplicate", "limit": "limit",
                 "limit_ids": "limit", "blacklisted": "barred", "rate_limited": "rate_limited",
                 "closed": "closed", "invalid_id": "invalid_id", "bad_request": "bad_request"}
STATS = frozenset({"DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD",
                   "ENROUTE"})


def hop(event: Any) -> None:
    """A ``ussd.gateway.HopEvent``: count it by outcome and time it (the hot path: looked up
    in a dict after the first hop of each kind; tallied with one process)."""
    families = F
    key = (event.gateway, event.outcome)
    count = families.hops.get(key)
    if count is None:
        outcome = event.outcome if event.outcome in OUTCOMES else "other"
        gateway = str(event.gateway)[:16]
        child = families.ussd_hops.labels(gateway, outcome)
        if event.gateway not in families.hop_seconds:
            families.hop_seconds[event.gateway] = _Observed(
                families.ussd_hop_seconds.labels(gateway))
        if len(families.hops) >= 256:  # kinds come from our code: a handful per gateway
            child.inc()
            families.ussd_hop_seconds.labels(gateway).observe(event.ms / 1000.0)
            return
        count = families.hops[key] = _Count(child)
    if families.tally:
        count.n += 1
        families.hop_seconds[event.gateway].observe(event.ms / 1000.0)
    else:
        count.child.inc()
        families.hop_seconds[event.gateway].child.observe(event.ms / 1000.0)


def agi_command(command: str, outcome: str, seconds: float) -> None:
    """One AGI command answered (or not): by its first word."""
    name = command if command in AGI_COMMANDS else "other"
    F.ivr_commands.labels(name, outcome).inc()
    F.ivr_command_seconds.labels(name).observe(seconds)


def booking(outcome: str, channel: str) -> None:
    """A booking operation's outcome: ``taken``/``held``, a refusal's ``BookingError.code``
    (mapped to the families' words: ``blacklisted`` is ``barred``), ``cancelled``,
    ``checked_in`` or ``no_show``."""
    if outcome not in ("taken", "held", "cancelled", "checked_in", "no_show"):
        outcome = BOOKING_CODES.get(outcome, "other")
    F.bookings.labels(outcome, channel if channel in CHANNELS else "other").inc()


def redis_roundtrip(seconds: float) -> None:
    pending = F.redis_pending
    if pending is not None:
        pending.observe(seconds)
    else:
        F.redis_seconds.observe(seconds)


class CountingOutbox:
    """The SMS outbox as the sender sees it, counting how each submit settled and each
    delivery receipt (``sms`` knows nothing of metrics; everything else passes through)."""

    def __init__(self, outbox: Any) -> None:
        self._outbox = outbox

    def __getattr__(self, name: str) -> Any:
        return getattr(self._outbox, name)

    def done(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        F.sms_submits.labels("submitted").inc()
        return self._outbox.done(message, *args, **kwargs)

    def retry(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        F.sms_submits.labels("retry").inc()
        return self._outbox.retry(message, *args, **kwargs)

    def dead(self, message: Any, *args: Any, **kwargs: Any) -> Any:
        F.sms_submits.labels("failed").inc()
        return self._outbox.dead(message, *args, **kwargs)

    def receipt(self, key: str, message_id: str, stat: str, *args: Any, **kwargs: Any) -> Any:
        F.sms_receipts.labels(stat if stat in STATS else "other").inc()
        return self._outbox.receipt(key, message_id, stat, *args, **kwargs)


# -------------------------------------------------------------------- HTTP routes

class Routes:
    """Counts requests by route template: the paths the resource tree serves (``/ussd/at``,
    ``/api/kiosk/verify``, ...), the longest one a request's path starts with, else ``other``."""

    def __init__(self, templates: Iterable[str]) -> None:
        self.templates = frozenset(templates)
        self._children: dict[tuple[bytes, int], _Count] = {}  # known exact paths only: bounded

    def route_of(self, path: bytes) -> str:
        text = path.split(b"?", 1)[0].decode("latin-1").rstrip("/")
        if not text:
            return "/" if "/" in self.templates else "other"
        parts = text.split("/")
        while len(parts) > 1:
            candidate = "/".join(parts)
            if candidate in self.templates:
                return candidate
            parts.pop()
        return "other"

    def count(self, path: bytes, code: int) -> None:
        count = self._children.get((path, code))
        if count is None:
            route = self.route_of(path)
            child = F.http_requests.labels(route, str(int(code)))
            if route != path.decode("latin-1") or len(self._children) >= 1000:
                child.inc()
                return
            count = self._children[(path, code)] = _Count(child)
        if F.tally:
            count.n += 1
        else:
            count.child.inc()


def templates_of(root: Resource, extra: Iterable[bytes] = ()) -> set[str]:
    """Every path of the resource tree under ``root`` (and ``extra``: the gateway routes)."""
    found = {"/"}

    def walk(resource: Resource, path: str) -> None:
        for name, child in resource.children.items():
            here = f"{path}/{name.decode('latin-1')}"
            found.add(here)
            walk(child, here)

    walk(root, "")
    found.update(p.decode("latin-1") for p in extra)
    return found


class CountingSite(Site):
    """A Site that counts each finished request by route (instead of an access log line)."""

    def __init__(self, resource: Resource, routes: Routes | None = None, **kwargs: Any) -> None:
        # Our resources read their bodies themselves (JSON, or ussd's form_fields): Twisted's
        # POST form parsing (``email.message`` per request) is costly work for nothing.
        kwargs.setdefault("parsePOSTFormSubmission", False)
        super().__init__(resource, **kwargs)
        self.routes = routes

    def log(self, request: Request) -> None:
        if self.routes is not None:
            self.routes.count(request.path, request.code)


# -------------------------------------------------------------------- gauges

class LocalGauges:
    """This process's share of the live gauges; set on ``refresh`` (at each scrape here, and
    every second with several processes, since another process may answer the scrape)."""

    def __init__(self, *, calls: Callable[[], int], dialogues: Callable[[], int],
                 binds: Mapping[str, Any]) -> None:
        """``binds``: the SMPP services this process holds (the main process), by name."""
        self.calls = calls
        self.dialogues = dialogues
        self.binds = {name: bind for name, bind in binds.items() if bind is not None}
        F.processes.set(1)

    def refresh(self) -> None:
        F.ivr_calls.set(self.calls())
        F.ussd_dialogues.set(self.dialogues())
        for name, bind in self.binds.items():
            F.smpp_bound.labels(name).set(float(bool(bind.bound)))


def live_dialogues(stores: Iterable[Any], timeout_s: float, now: Callable[[], float]) -> int:
    """USSD dialogues in progress in this process: records in the session stores' node caches
    (``ussd.sessions``: an ended dialogue leaves it) whose last hop is within the timeout."""
    since = now() - timeout_s
    return sum(store.in_progress(since) for store in stores)


Fact = Callable[[], Awaitable[float] | float]


class ScrapeFacts:
    """Node-wide gauges read when a scrape comes: ``read()`` awaits each source, then
    ``collect()`` (prometheus_client's collector protocol) yields what was read."""

    def __init__(self) -> None:
        self.sources: dict[str, tuple[str, Fact]] = {}
        self._values: dict[str, float] = {}

    def add(self, name: str, help_text: str, read: Fact) -> None:
        self.sources[name] = (help_text, read)

    async def read(self) -> None:
        for name, (_, source) in self.sources.items():
            try:
                value = source()
                if not isinstance(value, int | float):
                    value = await value
                self._values[name] = float(value)
            except Exception as exc:
                log.warn("metrics.read_failed name={name} why={why}", name=name, why=str(exc))
                self._values[name] = float("nan")

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, _) in self.sources.items():
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], self._values.get(name, float("nan")))
            yield family


def register_facts(facts: ScrapeFacts, *, redis: Any, clock: Any) -> None:
    """What every node exports about Redis and SMS: the outbox (``sms.redis_lua``'s keys) and
    the holds (booking's ``hl:holds``)."""

    async def redis_up() -> float:
        try:
            await redis.ping()
        except Exception:
            return 0.0
        return 1.0

    async def outbox_oldest() -> float:
        head = await redis.zrange("hl:{sms}:q", 0, 0)
        if not head:
            return 0.0
        key = head[0].decode() if isinstance(head[0], bytes) else str(head[0])
        created = await redis.hget("hl:{sms}:m:" + key, "created")
        return max(0.0, clock.seconds() - float(created)) if created else 0.0

    async def zcard(key: str) -> float:
        return float(await redis.zcard(key))

    facts.add("hotline_redis_up", "1 when Redis answers a PING.", redis_up)
    facts.add("hotline_sms_outbox_queued", "SMS waiting in the outbox.",
              lambda: zcard("hl:{sms}:q"))
    facts.add("hotline_sms_outbox_sending", "SMS taken by a sender, not settled yet.",
              lambda: zcard("hl:{sms}:f"))
    facts.add("hotline_sms_outbox_oldest_age_seconds",
              "Age of the oldest SMS waiting in the outbox (0 when empty).", outbox_oldest)
    facts.add("hotline_booking_holds", "Bookings held until paid (hl:holds).",
              lambda: zcard("hl:holds"))


# -------------------------------------------------------------------- the resource

class MetricsResource(Resource):
    """``GET /metrics``. Not prometheus_client's ``twisted.MetricsResource``: that renders in
    a thread-pool thread, and the node-wide facts are asynchronous Redis reads on the reactor."""

    isLeaf = True

    def __init__(self, facts: ScrapeFacts, local: LocalGauges | None = None) -> None:
        super().__init__()
        self.facts, self.local = facts, local
        self.registry = CollectorRegistry(auto_describe=False)
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        else:
            self.registry.register(_Source(REGISTRY))
        self.registry.register(facts)  # type: ignore[arg-type]

    def render_GET(self, request: Request) -> object:
        async def run() -> None:
            if self.local is not None:
                self.local.refresh()
            await self.facts.read()
            body = generate_latest(self.registry)
            request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode())
            request.write(body)
            request.finish()

        ensureDeferred(run())
        return NOT_DONE_YET


class _Source:
    """A registry's collectors, as one collector of another registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


# -------------------------------------------------------------------- several processes

def use_multiprocess(directory: Path) -> None:
    """Main process of several, before its workers start: empty ``directory`` (files of an
    earlier run would be added to this run's counts), name it in the environment the workers
    inherit, and count into files there from now on (the families are made again)."""
    global F
    from prometheus_client import values

    flush()  # from now on every count goes straight into the files (Families.tally)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()
    for family in vars(F).values():
        if isinstance(family, Counter | Gauge | Histogram):
            REGISTRY.unregister(family)
    F = Families()


def process_ended(pid: int) -> None:
    """A worker exited: its live gauges leave the sums (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
