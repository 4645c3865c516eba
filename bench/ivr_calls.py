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
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started, stop  # noqa: E402
from ivr_load import load, pct  # noqa: E402
from ivr_servers import serve  # noqa: E402

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
    return started(subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.DEVNULL))


def start_servers(mode: str, args: argparse.Namespace, extra: list[str]) -> tuple[list, str]:
    """``--workers`` server processes; with more than one they share one listening socket bound
    here, as ``hotline serve`` with ``node.workers`` shares its FastAGI port."""
    me = [sys.executable, __file__, "serve", "--mode", mode, "--calls", str(args.calls), *extra]
    shared = None
    if args.workers > 1:
        from ivr.server import BACKLOG
        from node.sharedport import bind

        shared = bind("127.0.0.1", 0, BACKLOG)
    servers, port = [], ""
    for _ in range(args.workers):
        fd = ["--fd", str(shared.fileno())] if shared is not None else []
        server = started(subprocess.Popen(
            [*me, *fd],
            stdout=subprocess.PIPE,
            text=True,
            pass_fds=[shared.fileno()] if shared is not None else [],
        ))
        servers.append(server)
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            for s in servers:
                stop(s)
            raise SystemExit(f"server did not start: {line!r}")
        port = line.split()[1]
    if shared is not None:
        shared.close()  # the servers hold it now
    return servers, port


def run_pair(mode: str, args: argparse.Namespace, extra: list[str]) -> tuple[dict, dict]:
    servers, port = start_servers(mode, args, extra)
    try:
        return measure(mode, args, servers, port)
    finally:  # a load generator that timed out, a server that failed: stop all the same
        for server in servers:
            stop(server)


def measure(mode: str, args: argparse.Namespace, servers: list, port: str) -> tuple[dict, dict]:
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
        "redis_ms": [x / 1e3 for one in stats for x in one.get("redis_us", [])],
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

    from storage.embedded import RedisProcess

    load0 = os.getloadavg()[0]

    with (
        tempfile.TemporaryDirectory() as tmp,
        RedisProcess(Path(tmp) / "redis", durable=False) as rp,
    ):
        started(rp)
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
    redis_ms = ours["redis_ms"]
    if redis_ms:
        print(
            f"booking scripts (EVALSHA) round trip as the server sees it: p50 "
            f"{pct(redis_ms, 0.5):.2f} ms p90 {pct(redis_ms, 0.9):.2f} ms p99 "
            f"{pct(redis_ms, 0.99):.2f} ms over {len(redis_ms)}"
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
