"""The servers under test of bench/ivr_calls.py: ours (the real menu, effects, booking and
Redis behind hotline's FastAGI factory) and a bare line-echo server replaying the same
commands."""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr_load import cpu_s  # noqa: E402

# ---------------------------------------------------------------------- servers


def bench_catalog(folder: Path) -> Path:
    """The shipped catalog with room for every caller (capacity is not what we measure)."""
    text = (ROOT / "config/hospital.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(am|pm): \d+", r"\1: 5000", text)
    text = re.sub(r"places: \d+", "places: 5000", text)
    path = folder / "hospital.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def serve(args: argparse.Namespace) -> None:
    """One server process; prints ``PORT <n>`` when listening and ``STATS {...}`` when the
    orchestrator sends SIGUSR1 (after the load ended), then stops."""

    from twisted.internet import reactor, task
    from twisted.internet.defer import ensureDeferred

    stats: dict[str, Any] = {"latency": [], "redis": [], "results": {}, "calls": 0,
                             "cpu0": cpu_s()}
    gc_time = watch_gc()

    def done() -> None:
        stats["calls"] += 1

    def report() -> None:
        out = {
            "calls": stats["calls"],
            "results": stats["results"],
            "cpu_s": cpu_s() - stats["cpu0"],
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "latency_us": [round(x * 1e6) for x in stats["latency"]],
            "redis_us": [round(x * 1e6) for x in stats["redis"]],
            "gc_s": gc_time()[0],
            "gc_max_ms": gc_time()[1] * 1000,
        }
        print("STATS " + json.dumps(out), flush=True)
        reactor.stop()

    signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(report))

    def listen(factory: Any) -> None:
        from ivr.server import listen_fastagi

        if args.fd >= 0:  # --workers N: the socket the orchestrator bound, as hotline shares it
            from node.sharedport import adopt

            port = adopt(reactor, args.fd, factory)
            os.close(args.fd)
        else:
            port = listen_fastagi(reactor, 0, factory)
        from node.gctune import DEFAULT_GC, tune_gc

        # as serve does after start-up (node.gc); IVR_BENCH_GC=python keeps CPython's defaults
        tune_gc("python" if os.environ.get("IVR_BENCH_GC") == "python" else DEFAULT_GC)
        gc_time(reset=True)  # the start-up collection is not part of the load
        stats["cpu0"] = cpu_s()
        print(f"PORT {port.getHost().port}", flush=True)

    if args.mode == "bare":
        listen(bare_factory(json.loads(Path(args.replay).read_text()), done))
        reactor.run()
        return

    async def setup() -> None:
        from booking.catalog import load_catalog
        from booking.idcard import is_valid_resident_id
        from booking.store import RedisBookingService
        from dialogue.effects import booking_dialogue
        from ivr.server import FastAGIFactory
        from menus.definition import MenuSource, load_menu
        from menus.driver import Dialogue
        from settings.schema import DEFAULTS
        from storage.client import connect

        menus = MenuSource([load_menu(ROOT / "config/menus/booking.yaml")])
        validators = {"resident_id": is_valid_resident_id}
        if args.stub_booking:  # canned effect results: what the channel + menu cost alone
            dialogue = Dialogue(menus, stub_effects, validators)
        else:
            redis = await connect(args.redis)
            catalog = load_catalog(bench_catalog(Path(args.tmp)))
            cache_s = float(DEFAULTS["booking"].get("listing_cache_s", 0.0))  # as serve runs
            booking = RedisBookingService(redis, catalog, reactor, listing_cache_s=cache_s)
            dialogue = booking_dialogue(menus, booking, reactor, validators)  # as serve wires it
            time_scripts(redis, stats["redis"])

        def record(rec: Any) -> None:
            key = f"{rec.result}:{rec.end_node or rec.hangup_at}"
            stats["results"][key] = stats["results"].get(key, 0) + 1
            done()

        listen(
            FastAGIFactory(
                dialogue, clock=reactor, on_record=record, on_latency=stats["latency"].append
            )
        )

    start_server_logging(reactor, args)
    task.deferLater(reactor, 0, lambda: ensureDeferred(setup())).addErrback(
        lambda f: (print(f.getTraceback(), file=sys.stderr), reactor.stop())
    )
    reactor.run()


def time_scripts(redis: Any, seconds: list[float]) -> None:
    """Record each EVALSHA's round trip as the server sees it (sent .. reply handled): a
    booking waits for one, and on a busy node that wait, not Redis's own time (hold.lua is
    ~0.2 ms of Redis CPU), is where the FastAGI tail comes from."""
    send = redis.evalsha

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()

        def done(result: Any) -> Any:
            seconds.append(time.perf_counter() - started)
            return result

        return send(*args, **kwargs).addBoth(done)

    redis.evalsha = timed


def watch_gc() -> Any:
    """Time spent in the cyclic garbage collector (it runs inside whatever allocates, so a
    profile shows it as random constructors); returns a function giving the seconds so far.
    The servers tune the collector as serve does (node.gc, node/gctune.py);
    IVR_BENCH_GC=python runs them with CPython's defaults instead."""
    import gc

    spent = [0.0, 0.0, 0.0]  # total, started at, longest pause

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            spent[1] = time.perf_counter()
        else:
            pause = time.perf_counter() - spent[1]
            spent[0] += pause
            spent[2] = max(spent[2], pause)

    gc.callbacks.append(callback)

    def read(reset: bool = False) -> tuple[float, float]:
        if reset:
            spent[0] = spent[2] = 0.0
        return spent[0], spent[2]

    return read


def start_server_logging(reactor: Any, args: argparse.Namespace) -> None:
    """Log as ``hotline serve`` does (Twisted and structlog events, masked, one line each, at
    ``--log-level``), to ``<tmp>/server.log`` instead of stdout (stdout talks to the bench)."""
    from logs.output import start_logging

    path = Path(args.tmp or tempfile.gettempdir()) / "ivr-server.log"
    stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    start_logging(stream, level=args.log_level, clock=reactor)


STUB_VALUES: dict[str, Any] = {
    "departments": [
        {"id": f"d{i}", "name": n} for i, n in enumerate(["内科", "外科", "儿科", "眼科", "口腔科"])
    ],
    "open_days": [{"id": f"2026-11-2{i}", "name": f"11月2{i}日"} for i in range(6, 9)],
    "sessions": [{"id": "am", "name": "上午", "left": 9}, {"id": "pm", "name": "下午", "left": 9}],
    "book": {
        "tcode": "1234567890",
        "dept_name": "内科",
        "day_name": "11月26日",
        "session_name": "上午",
    },
}


async def stub_effects(effect: Any, session: Any) -> Any:
    from menus.types import EffectResult

    if effect.name in STUB_VALUES:
        return EffectResult(ok=True, value=STUB_VALUES[effect.name])
    return EffectResult(ok=False, error="error")


def bare_factory(commands: list[str], done: Any) -> Any:
    """A line-echo server: after the env block, one canned command per peer line, then close."""
    from twisted.internet.protocol import Factory
    from twisted.protocols.basic import LineReceiver

    class Bare(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.env, self.next = True, 0

        def lineReceived(self, line: bytes) -> None:
            if self.env:
                if line:
                    return
                self.env = False
            elif line == b"HANGUP":
                return
            if self.next < len(commands):
                self.sendLine(commands[self.next].encode())
                self.next += 1
            else:
                self.transport.loseConnection()

        def connectionLost(self, reason: Any = None) -> None:
            done()

    return Factory.forProtocol(Bare)


