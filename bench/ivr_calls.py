"""FastAGI load: concurrent simulated callers book through the real menu, booking and Redis.

    .venv/bin/python bench/ivr_calls.py [--calls 3000] [--concurrency 1000] [--think-ms 200]
        [--workers 1] [--stub-booking] [--log-level info]

Three processes: this orchestrator, the server under test (``serve``), and the load generator
(``load``, playing Asterisk). Prompts play in no time; a caller keys every digit of its 6
answers (welcome, department, day, session, the 18-character ID, confirm: 23 keys) after its
own pause of think ± 50 % (uniform), and a ``GET DATA`` / ``EXEC Read`` reply arrives after the
sum of the pauses of its keys, as Asterisk returns the digits only when input ends. Callers start
staggered over one call length so they do not run in lock-step, and start a new call when one
ends. The offered load (calls/s and AGI commands/s that the callers would ask of an infinitely
fast server) is printed next to what was achieved in the steady window (all callers started, no
caller retired yet). Then the same load runs against a bare line-echo server that replays the
same command sequence without any logic, and the CPU per call of both is compared.
``--workers N`` runs N server processes (ours and bare alike) on one listening socket bound
here and inherited, as ``hotline serve`` shares its FastAGI port with ``node.workers``; their
CPU and RSS are summed and their latencies pooled. Server
latency = time from a peer line arriving to our next command leaving (measured inside the
server). Last line:
``BENCH ivr_calls p99_ms=<x> rss_mb=<n> failed=<n> cpu_ratio=<ours/bare>``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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
    import signal

    from twisted.internet import reactor, task
    from twisted.internet.defer import ensureDeferred

    stats: dict[str, Any] = {"latency": [], "results": {}, "calls": 0, "cpu0": cpu_s()}
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
            "gc_s": gc_time()[0],
            "gc_max_ms": gc_time()[1] * 1000,
        }
        print("STATS " + json.dumps(out), flush=True)
        reactor.stop()

    signal.signal(signal.SIGUSR1, lambda *_: reactor.callFromThread(report))

    def listen(factory: Any) -> None:
        from ivr.server import listen_fastagi

        if args.fd >= 0:  # --workers N: the socket the orchestrator bound, as hotline shares it
            from hotline.sharedport import adopt

            port = adopt(reactor, args.fd, factory)
            os.close(args.fd)
        else:
            port = listen_fastagi(reactor, 0, factory)
        from hotline.gctune import DEFAULT_GC, tune_gc

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
        from hotline.effects import make_effect_runner
        from hotline.redis_client import connect
        from hotline.settings import DEFAULTS
        from ivr.server import FastAGIFactory
        from menus.definition import MenuSource, load_menu
        from menus.driver import Dialogue

        if args.stub_booking:  # canned effect results: what the channel + menu cost alone
            run_effect = stub_effects
        else:
            redis = await connect(args.redis)
            catalog = load_catalog(bench_catalog(Path(args.tmp)))
            cache_s = float(DEFAULTS["booking"].get("listing_cache_s", 0.0))  # as serve runs
            booking = RedisBookingService(redis, catalog, reactor, listing_cache_s=cache_s)
            run_effect = make_effect_runner(booking)
        menus = MenuSource([load_menu(ROOT / "config/menus/booking.yaml")])
        validators = {"resident_id": is_valid_resident_id}
        dialogue = Dialogue(menus, run_effect, validators)

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


def watch_gc() -> Any:
    """Time spent in the cyclic garbage collector (it runs inside whatever allocates, so a
    profile shows it as random constructors); returns a function giving the seconds so far.
    The servers tune the collector as serve does (node.gc, hotline/gctune.py);
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
    import structlog

    from hotline.logs import start_logging

    path = Path(args.tmp or tempfile.gettempdir()) / "ivr-server.log"
    stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
    start_logging(stream, level=args.log_level, clock=reactor)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(stream))


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


# ---------------------------------------------------------------------- load generator


def resident_id(i: int) -> str:
    from booking.idcard import check_char

    birth = dt.date(1980, 1, 1) + dt.timedelta(days=i // 900)
    first17 = f"110105{birth:%Y%m%d}{100 + i % 900:03d}"
    return first17 + check_char(first17)


def load(args: argparse.Namespace) -> None:
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
    from twisted.protocols.basic import LineReceiver

    from ivr.simulator_rules import env_lines

    rng = random.Random(7)
    think_s = args.think_ms / 1000
    out: dict[str, Any] = {"ok": 0, "failed": 0, "rtt": [], "durations": [], "first": None}
    state = {"started": 0, "running": 0, "peak": 0, "commands": 0}
    ends: list[float] = []  # (perf_counter) when each call ended
    marks: dict[str, float] = {}  # steady window: all callers started .. the last call started
    t0 = time.perf_counter()

    def keyed_after(keys: str) -> float:
        """Seconds until input ends: one think ± 50 % pause before every key."""
        return sum(think_s * rng.uniform(0.5, 1.5) for _ in keys) if keys else think_s

    class Caller(LineReceiver):
        delimiter = b"\n"

        def __init__(self, i: int) -> None:
            id_keyed = resident_id(i).replace("X", "*")
            self.answers = ["1", str(1 + i % 5), str(1 + (i // 5) % 3), str(1 + (i // 15) % 2)]
            self.answers += [id_keyed, "1"]
            self.env = env_lines(
                script="booking", callerid=f"139{10_000_000 + i:08d}", uniqueid=f"1764100000.{i}"
            )
            self.commands: list[str] = []
            self.sent_at: float | None = None
            self.booked = False
            self.began = time.perf_counter()
            self.keys = ""

        def connectionMade(self) -> None:
            self.transport.write("".join(x + "\n" for x in self.env).encode())
            self.sent_at = time.perf_counter()

        def reply(self, *lines: str) -> None:
            self.transport.write("".join(x + "\n" for x in lines).encode())
            self.sent_at = time.perf_counter()

        def lineReceived(self, line: bytes) -> None:
            state["commands"] += 1
            if self.sent_at is not None:
                out["rtt"].append(time.perf_counter() - self.sent_at)
                self.sent_at = None
            text = line.decode()
            self.commands.append(text)
            verb = " ".join(text.split(" ")[:2]).upper()
            if verb == "GET DATA" or verb == "EXEC READ":
                self.keys = self.answers.pop(0) if self.answers else ""
                delay = keyed_after(self.keys)
                answer = f"200 result={self.keys}" if verb == "GET DATA" else "200 result=0"
                reactor.callLater(delay, self.reply, answer)
            elif verb == "GET FULL":  # ${READSTATUS},${var} after EXEC Read
                self.reply(f"200 result=1 (OK,{self.keys})")
            elif verb.startswith("STREAM"):
                self.reply("200 result=0 endpos=16000")
            elif verb.startswith("HANGUP"):
                self.reply("200 result=1", "HANGUP")
            elif verb == "SAY DIGITS":
                self.booked = self.booked or len(text.split(" ")[2]) == 10
                self.reply("200 result=0")
            else:
                self.reply("200 result=0")

        def connectionLost(self, reason: Any = None) -> None:
            ends.append(time.perf_counter())
            out["durations"].append(ends[-1] - self.began)
            good = self.commands[-1:] == ["HANGUP"] and (self.booked or args.bare)
            out["ok" if good else "failed"] += 1
            if good and out["first"] is None:
                out["first"] = self.commands
            state["running"] -= 1
            if out["ok"] + out["failed"] == args.calls:
                out["elapsed_s"] = time.perf_counter() - t0
                reactor.stop()
            else:
                next_call()

    def next_call() -> None:
        if state["started"] >= args.calls:
            return
        i = state["started"]
        state["started"] += 1
        if i + 1 == min(args.concurrency, args.calls):
            marks["full"], marks["full_cmds"] = time.perf_counter(), state["commands"]
        if i + 1 == args.calls:
            marks["last"], marks["last_cmds"] = time.perf_counter(), state["commands"]
        state["running"] += 1
        state["peak"] = max(state["peak"], state["running"])
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", args.port, timeout=10)
        connectProtocol(endpoint, Caller(i)).addErrback(lambda f: failed_connect())

    def failed_connect() -> None:
        out["failed"] += 1
        state["running"] -= 1
        next_call()

    keys_per_call = sum(len(x) for x in Caller(0).answers)
    call_s = keys_per_call * think_s  # a call's length if the server took no time
    for _ in range(min(args.concurrency, args.calls)):
        reactor.callLater(rng.uniform(0, call_s), next_call)
    reactor.run()
    rtt = out.pop("rtt")
    durations = out.pop("durations")
    out["call_p50_s"] = pct(durations, 0.5)
    out["keys_per_call"] = keys_per_call
    out["offered_calls_s"] = min(args.concurrency, args.calls) / call_s
    window = marks.get("last", 0.0) - marks.get("full", 0.0)
    if window > 2 * think_s:
        done_in = sum(1 for t in ends if marks["full"] <= t < marks["last"])
        out["steady_s"] = window
        out["steady_calls_s"] = done_in / window
        out["steady_cmds_s"] = (marks["last_cmds"] - marks["full_cmds"]) / window
    else:  # too few calls for a steady window: the whole run
        out["steady_s"] = 0.0
        out["steady_calls_s"] = args.calls / out["elapsed_s"]
        out["steady_cmds_s"] = state["commands"] / out["elapsed_s"]
    out.update(
        cpu_s=cpu_s(),
        peak=state["peak"],
        rtt_p50_ms=pct(rtt, 0.5) * 1000,
        rtt_p99_ms=pct(rtt, 0.99) * 1000,
    )
    print("LOAD " + json.dumps(out), flush=True)


# ---------------------------------------------------------------------- orchestration


def profile_server(pid: int) -> subprocess.Popen[bytes] | None:
    """With IVR_BENCH_PYSPY=<file.raw>: sample our server with py-spy (after IVR_BENCH_PYSPY_AT
    seconds, default 4, for IVR_BENCH_PYSPY_S seconds, default 8), folded stacks to the file."""
    out = os.environ.get("IVR_BENCH_PYSPY")
    if not out:
        return None
    pyspy = Path(sys.executable).with_name("py-spy")
    at = float(os.environ.get("IVR_BENCH_PYSPY_AT", "4"))
    secs = os.environ.get("IVR_BENCH_PYSPY_S", "8")
    cmd = f"sleep {at}; exec {pyspy} record -p {pid} -d {secs} -r 200 -f raw -o {out} --nonblocking"
    return subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL)


def start_servers(mode: str, args: argparse.Namespace, extra: list[str]) -> tuple[list, str]:
    """``--workers`` server processes; with more than one they share one listening socket bound
    here, as ``hotline serve`` with ``node.workers`` shares its FastAGI port."""
    me = [sys.executable, __file__, "serve", "--mode", mode, "--calls", str(args.calls), *extra]
    shared = None
    if args.workers > 1:
        from hotline.sharedport import bind
        from ivr.server import BACKLOG

        shared = bind("127.0.0.1", 0, BACKLOG)
    servers, port = [], ""
    for _ in range(args.workers):
        fd = ["--fd", str(shared.fileno())] if shared is not None else []
        server = subprocess.Popen(
            [*me, *fd],
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=[shared.fileno()] if shared is not None else [],
        )
        servers.append(server)
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            for s in servers:
                s.kill()
            raise SystemExit(f"server did not start: {line!r}")
        port = line.split()[1]
    if shared is not None:
        shared.close()  # the servers hold it now
    return servers, port


def run_pair(mode: str, args: argparse.Namespace, extra: list[str]) -> tuple[dict, dict]:
    servers, port = start_servers(mode, args, extra)
    profiler = profile_server(servers[0].pid) if mode == "ours" else None
    loadgen = subprocess.run(
        [
            sys.executable,
            __file__,
            "load",
            "--port",
            port,
            "--calls",
            str(args.calls),
            "--concurrency",
            str(args.concurrency),
            "--think-ms",
            str(args.think_ms),
            *(["--bare"] if mode == "bare" else []),
        ],
        capture_output=True,
        text=True,
        timeout=args.limit_s,
    )
    stats = []
    for server in servers:
        server.send_signal(signal.SIGUSR1)
        assert server.stdout is not None
        line = server.stdout.readline()
        server.wait(timeout=30)
        if not line.startswith("STATS "):
            raise SystemExit(f"{mode} server failed: {line[:200]!r} {loadgen.stderr[-2000:]}")
        stats.append(json.loads(line[6:]))
    if profiler is not None:
        profiler.wait(timeout=60)
    load_line = [x for x in loadgen.stdout.splitlines() if x.startswith("LOAD ")]
    if not load_line:
        raise SystemExit(f"{mode} load failed: {loadgen.stderr[-2000:]}")
    return merge_stats(stats), json.loads(load_line[0][5:])


def merge_stats(stats: list[dict]) -> dict:
    """The servers' numbers as one: CPU and RSS summed, latencies pooled."""
    lat = sorted(x / 1e6 for one in stats for x in one["latency_us"])
    results: dict[str, int] = {}
    for one in stats:
        for key, n in one["results"].items():
            results[key] = results.get(key, 0) + n
    return {
        "calls": sum(one["calls"] for one in stats),
        "calls_each": [one["calls"] for one in stats],
        "results": results,
        "cpu_s": sum(one["cpu_s"] for one in stats),
        "gc_s": sum(one["gc_s"] for one in stats),
        "gc_max_ms": max(one["gc_max_ms"] for one in stats),
        "rss_mb": sum(one["rss_mb"] for one in stats),
        "rss_each": [round(one["rss_mb"]) for one in stats],
        "p50_ms": pct(lat, 0.50) * 1000,
        "p99_ms": pct(lat, 0.99) * 1000,
        "commands": len(lat),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", nargs="?", default="bench", choices=["bench", "serve", "load"])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--think-ms", type=float, default=200.0)
    parser.add_argument("--limit-s", type=float, default=300.0)
    parser.add_argument("--mode", default="ours")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--redis", default="")
    parser.add_argument("--replay", default="")
    parser.add_argument("--tmp", default="")
    parser.add_argument("--bare", action="store_true")
    parser.add_argument("--stub-booking", action="store_true", help="canned effect results")
    parser.add_argument("--workers", type=int, default=1, help="server processes, one port")
    parser.add_argument("--fd", type=int, default=-1, help="(serve) a shared listening socket")
    parser.add_argument("--log-level", default="info", help="server log level (as serve: info)")
    args = parser.parse_args()
    if args.role == "serve":
        return serve(args)
    if args.role == "load":
        return load(args)

    from hotline.redis_server import RedisProcess

    load0 = os.getloadavg()[0]

    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisProcess(Path(tmp) / "redis", durable=False) as rp,
    ):
        extra = ["--stub-booking"] if args.stub_booking else []
        extra += ["--log-level", args.log_level]
        ours, ours_load = run_pair("ours", args, ["--redis", rp.url, "--tmp", tmp, *extra])
        replay = Path(tmp) / "replay.json"
        replay.write_text(json.dumps(ours_load["first"] or []))
        bare, bare_load = run_pair("bare", args, ["--replay", str(replay)])
    per_call = ours["cpu_s"] / args.calls * 1e6
    bare_call = bare["cpu_s"] / args.calls * 1e6
    ratio = per_call / bare_call if bare_call else float("inf")
    failed = ours_load["failed"] + bare_load["failed"]
    cmds = len(ours_load["first"] or [])
    offered = ours_load["offered_calls_s"]
    print(f"load average before/after: {load0:.2f} / {os.getloadavg()[0]:.2f} (2 vCPUs shared)")
    print(
        f"calls={args.calls} concurrency={args.concurrency} (peak {ours_load['peak']}) "
        f"think={args.think_ms:.0f}ms±50% per key, {ours_load['keys_per_call']} keys/call, "
        f"commands/call={cmds}, call length p50 {ours_load['call_p50_s']:.2f} s "
        f"(bare {bare_load['call_p50_s']:.2f} s)"
    )
    print(
        f"servers: {args.workers} FastAGI process(es) on one port (calls each "
        f"{ours['calls_each']}, peak RSS each {ours['rss_each']} MB); the load generator, "
        f"Redis and the servers share the machine's {os.cpu_count()} vCPUs"
    )
    print(
        f"offered: {offered:.0f} calls/s, {offered * cmds:.0f} AGI commands/s; achieved "
        f"(steady {ours_load['steady_s']:.1f} s): ours {ours_load['steady_calls_s']:.0f} calls/s "
        f"{ours_load['steady_cmds_s']:.0f} commands/s, bare {bare_load['steady_calls_s']:.0f} "
        f"calls/s {bare_load['steady_cmds_s']:.0f} commands/s"
    )
    print(
        f"ours: {args.calls / ours_load['elapsed_s']:.0f} calls/s over the whole run, server "
        f"latency p50 {ours['p50_ms']:.2f} ms p99 {ours['p99_ms']:.2f} ms over "
        f"{ours['commands']} commands, peak RSS {ours['rss_mb']:.0f} MB, "
        f"CPU {per_call:.0f} µs/call (GC {ours['gc_s'] / args.calls * 1e6:.0f}, longest GC pause "
        f"{ours['gc_max_ms']:.1f} ms), "
        f"outcomes {ours['results']}, failed {ours_load['failed']}"
    )
    print(
        f"client round trip (incl. client lag): p50 {ours_load['rtt_p50_ms']:.2f} ms "
        f"p99 {ours_load['rtt_p99_ms']:.2f} ms; load generator CPU "
        f"{ours_load['cpu_s'] / ours_load['elapsed_s'] * 100:.0f} %, "
        f"server CPU {ours['cpu_s'] / ours_load['elapsed_s'] * 100:.0f} %"
    )
    print(
        f"bare line-echo, same load: {args.calls / bare_load['elapsed_s']:.0f} calls/s, "
        f"CPU {bare_call:.0f} µs/call, peak RSS {bare['rss_mb']:.0f} MB, "
        f"failed {bare_load['failed']}"
    )
    print(
        f"BENCH ivr_calls p99_ms={ours['p99_ms']:.2f} rss_mb={ours['rss_mb']:.0f} "
        f"failed={failed} cpu_ratio={ratio:.1f}"
    )


if __name__ == "__main__":
    main()
