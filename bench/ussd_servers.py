"""The servers under test of bench/ussd_http.py, each run in its own process by ``spawn``.

``--serve-ours``: hotline as deployed (``hotline.app.start``), on one process or a node of
several; ``--serve-channel``: the USSD channel alone, effects answered from memory;
``--serve-bare``: twisted.web answering a constant; ``--serve-bare-port``: the same constant on
hotline's HTTP port protocol; ``--serve-smsc``: the loopback SMSC
simulator that receives ours' T-code SMS (in its own process, as the operator's SMSC is never
inside hotline: with ``sms.smpp`` unset, ``serve`` would run it in-process and this bench would
count its CPU as ours). Each prints ``{"port": <n>}`` once listening. Kept apart from the
load and the report so bench/ussd_http.py reads as what it measures; ``BENCH_PROFILE`` /
``BENCH_PROFILE_CHANNEL`` (a file) run ours / the channel server under cProfile;
``BENCH_TURNS`` (a file) times ours' reactor turns and GC pauses (``time_turns``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started, stop  # noqa: E402
from ussd_load import DEPTS  # noqa: E402


def serve_ours(redis_url: str, catalog: str, data_dir: str, log_path: str, smsc_port: str,
               workers: str = "1") -> None:
    from twisted.internet import defer, reactor

    from hotline.app import start
    from logs.output import start_logging
    from node.gctune import tune_gc
    from settings.schema import load_settings

    settings = load_settings(ROOT / "config" / "hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "hospital": catalog, "data_dir": data_dir, "node": {"workers": int(workers)},
        "sms": {"smpp": {"host": "127.0.0.1", "port": int(smsc_port), "system_id": "hotline",
                         "password": ""}},
    })
    level = os.environ.get("BENCH_LOG_LEVEL", "info")
    start_logging(open(log_path, "w", encoding="utf-8"), level=level,  # noqa: SIM115
                  clock=reactor)

    async def main() -> None:
        running = await start(settings, reactor)
        tune_gc(settings.raw["node"]["gc"])  # as serve does after start-up
        print(json.dumps({"port": running.http_port}), flush=True)

    defer.ensureDeferred(main()).addErrback(lambda f: (f.printTraceback(), reactor.stop()))
    if os.environ.get("BENCH_TURNS"):
        time_turns(reactor, os.environ["BENCH_TURNS"])
    run_reactor(reactor, os.environ.get("BENCH_PROFILE"))


def time_turns(reactor: Any, path: str) -> None:
    """Diagnostic (``BENCH_TURNS=<file>``): how long each reactor turn worked (from the poll's
    return to the next poll) and each garbage collection paused. Every SIGUSR1 appends the
    counts since the last one to ``path`` as one JSON line and starts again; bench/ussd_http.py
    sends one before and one after the paced run (b). A turn of several ms is a stall every
    request arriving meanwhile waits out: this is how the 0.2 s booking-event batches were found.
    Wraps the epoll reactor's poller (a Twisted internal); any other reactor: not timed."""
    import gc
    import signal
    import time
    from collections import Counter

    turns: Counter[int] = Counter()
    pauses: Counter[str] = Counter()
    state = {"polled": 0.0, "gc": 0.0}
    poller = getattr(reactor, "_poller", None)
    if poller is None or not hasattr(poller, "poll"):
        print("BENCH_TURNS: this reactor has no epoll poller; turns are not timed", flush=True)
        return

    class TimedPoller:
        def __getattr__(self, name: str) -> Any:
            return getattr(poller, name)

        def poll(self, *args: Any) -> Any:
            if state["polled"]:
                turns[int((time.perf_counter() - state["polled"]) * 1000)] += 1
            events = poller.poll(*args)
            state["polled"] = time.perf_counter()
            return events

    def collected(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            state["gc"] = time.perf_counter()
        else:
            ms = int((time.perf_counter() - state["gc"]) * 1000)
            pauses[f"gen{info['generation']} {ms} ms"] += 1

    def dump() -> None:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"turn_ms": dict(sorted(turns.items())),
                                  "gc": dict(sorted(pauses.items()))}) + "\n")
        turns.clear()
        pauses.clear()

    reactor._poller = TimedPoller()
    gc.callbacks.append(collected)
    signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(dump))


def run_reactor(reactor: Any, profile_to: str | None) -> None:
    """Run the reactor; with ``profile_to`` (a file) under cProfile, stats written at SIGTERM."""
    if not profile_to:
        reactor.run()
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    reactor.run()  # SIGTERM stops the reactor, then the stats are written
    profiler.disable()
    profiler.dump_stats(profile_to)


def serve_channel(redis_url: str) -> None:
    """Diagnostic: the real USSD stack, menus and Redis sessions, effects answered from memory
    (no booking store), to show what the channel itself costs next to bare twisted.web."""
    from twisted.internet import defer, reactor
    from twisted.web.resource import Resource

    import metrics
    from hotline.ussd_wiring import gateway_routes
    from menus.definition import MenuSource, load_menu
    from menus.driver import Dialogue
    from menus.types import Effect, EffectResult, Session
    from storage import client as redis_client
    from ussd.at import AtUssdResource
    from ussd.httpport import GatewayHttpFactory
    from ussd.sessions import UssdSessionStore

    items = {
        "departments": [{"id": i, "name": n} for i, n in DEPTS],
        "open_days": [{"id": f"2026-12-0{d}", "name": f"12月0{d}日"} for d in range(1, 6)],
        "sessions": [{"id": "am", "name": "上午", "left": 9}, {"id": "pm", "name": "下午",
                                                              "left": 9}],
        "registered_ids": [],  # a first-time caller (was missing: a failed effect per booking)
        "hospital_start": {"mode": "single", "hospital": {"id": "main"}, "recent": []},
    }

    async def run_effect(effect: Effect, session: Session) -> EffectResult:
        if effect.name == "book":
            return EffectResult(True, {"tcode": "4381090292", "dept_name": "内科",
                                       "day_name": "12月01日", "session_name": "上午"})
        return EffectResult(True, items[effect.name])

    async def main() -> None:
        redis = await redis_client.connect(redis_url)
        dialogue = Dialogue(MenuSource([load_menu(ROOT / "config/menus/booking.yaml")]),
                            run_effect, {"resident_id": lambda s: True})
        root, ussd = Resource(), Resource()
        root.putChild(b"ussd", ussd)
        at = AtUssdResource(dialogue, UssdSessionStore(redis), clock=reactor)
        at.gateway.on_hop = metrics.hop  # counted as hotline serves them
        ussd.putChild(b"at", at)
        # served as hotline serves: the HTTP port over its site class, requests counted by route
        routes = metrics.Routes(metrics.templates_of(root, gateway_routes(root)))
        factory = GatewayHttpFactory(metrics.CountingSite(root, routes), gateway_routes(root),
                                     count=routes.count)
        port = reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1")
        print(json.dumps({"port": port.getHost().port}), flush=True)

    defer.ensureDeferred(main()).addErrback(lambda f: (f.printTraceback(), reactor.stop()))
    run_reactor(reactor, os.environ.get("BENCH_PROFILE_CHANNEL"))


def const_resource() -> Any:
    """twisted.web answering every POST with a constant."""
    from twisted.web.resource import Resource

    class Const(Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"CON constant answer\n"

    return Const()


def serve_bare() -> None:
    from twisted.internet import reactor
    from twisted.web.server import Site

    site = Site(const_resource())
    site.log = lambda request: None  # no access log, as in the reference baseline
    port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
    print(json.dumps({"port": port.getHost().port}), flush=True)
    reactor.run()


def serve_bare_port() -> None:
    """The same constant on hotline's HTTP port protocol (``ussd.httpport``): the floor of
    what a gateway request costs there, next to twisted.web's (with the fast path off,
    twisted.web answers behind the port's reader)."""
    from twisted.internet import reactor
    from twisted.web.server import Site

    from ussd.httpport import GatewayHttpFactory
    from ussd.wire import plain

    answer = plain(200, "CON constant answer\n")
    site = Site(const_resource())
    site.log = lambda request: None  # as serve_bare
    factory = GatewayHttpFactory(site, {b"/": lambda request: answer})
    port = reactor.listenTCP(0, factory, backlog=1024, interface="127.0.0.1")
    print(json.dumps({"port": port.getHost().port}), flush=True)
    reactor.run()


def serve_smsc() -> None:
    from twisted.internet import reactor

    from sms.smsc import start_smsc

    port = start_smsc(reactor, 0, on_message=lambda *message: None)
    print(json.dumps({"port": port.getHost().port}), flush=True)
    reactor.run()


def spawn(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start a server (``env``: added to this process's environment)."""
    proc = started(subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                                    text=True, cwd=ROOT,
                                    env={**os.environ, **env} if env else None))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("{"):
        stop(proc)
        raise RuntimeError(f"server {args[0]} did not start: {line[:200]!r}")
    out = proc.stdout  # keep draining, so a chatty child never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in out], daemon=True).start()
    return proc, int(json.loads(line)["port"])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-ours":
        serve_ours(*sys.argv[2:8])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-channel":
        serve_channel(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-bare":
        serve_bare()
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-bare-port":
        serve_bare_port()
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-smsc":
        serve_smsc()
    else:
        sys.exit(f"usage: {sys.argv[0]} --serve-ours|--serve-channel|--serve-bare|"
                 "--serve-bare-port|--serve-smsc")
