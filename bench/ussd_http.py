"""USSD over HTTP: whole bookings against the real server, next to a bare twisted.web endpoint.

    .venv/bin/python bench/ussd_http.py [--duration 10] [--rate 1000] [--paced-duration 10]

Starts its own redis-server (no persistence), the loopback SMSC simulator, the hotline server
(``hotline.app.start``: real menus, booking store, the T-code SMS over SMPP to that SMSC,
logging at info to a file) and a bare
twisted.web server answering a constant, each in its own process, so each server gets a core
while this process generates the load over keep-alive HTTP/1.1 connections (the servers are in
bench/ussd_servers.py, the load generator in bench/ussd_load.py).

(a) closed loop: ``--conns`` (50) connections; on ours each is one caller booking again and
    again (7 hops: dial, department, day, session, ID, confirm); on bare, the same number of
    connections POST a USSD-sized form. The two alternate in ``--rounds`` (8) short rounds.
    The ratio is ours' best round over bare's best round: this vCPU has a fast and a slow mode
    (bench/machine.py: ~1.7x apart, the slow one 5-86 % of the time, in spells of up to
    seconds), so a round's rate depends on how much of it fell in the slow mode, and each
    side's best round is that side in the fast mode. The median of the per-round ratios (the
    headline until 2026-11-26) is printed too: it compares rounds that caught different
    mixtures of the two modes. Each round prints the server's CPU per request and its resident
    memory after the round (a cache that keeps growing shows there). Two diagnostics run in
    the same rounds: the USSD channel with effects from memory, and the bare constant on
    hotline's own HTTP port protocol (what a gateway request costs before the hop's work).
``--fast-path PIECES``: a second hotline server runs with ``HOTLINE_FAST_PATH=PIECES`` (``0``:
the fast path off; ``send,redis``: without the lean HTTP answers) and takes its turn in the
closed-loop rounds; its server CPU per hop is compared with ours', round by round.
``BENCH_TURNS=<file>``: also time the server's reactor turns and GC pauses during (b) and
print how many turns worked 3 ms or more (a stall that requests arriving meanwhile wait out).
(b) paced: ``--rate`` (1000) hops/s offered on ours, latency from the scheduled send time (so
    a late client does not hide server stalls), p50/p99; also the p99 from the moment each
    request really left, which leaves out this generator's own lateness (it shares the CPUs).
(c) paced again at ``--rate`` on a node of ``--node-workers`` (2) processes (``node.workers``:
    the deployment for a multi-core machine); 1 skips it.
(b) and (c) also print how busy the machine's vCPUs were and how much time the hypervisor stole
    (``/proc/stat``): a run disturbed from outside the bench shows there.
Errors: a non-200 answer, a body that is not CON/END, a booking that does not end with a
T-code. Last line: ``BENCH ussd_http ratio=<ours/bare, best rounds> p99_ms=<paced p99, one
process> errors=<n> p99_ms_<N>proc=<paced p99 on the N-process node> ratio_median=<median of
the per-round ratios>``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started, stop  # noqa: E402
from ussd_load import DEPTS, closed_loop, paced  # noqa: E402
from ussd_servers import spawn  # noqa: E402

CATALOG = """\
hospital:
  name: {zh: 压测医院, en: Bench hospital}
  days_ahead: 7
  remote_share: 1.0
sessions:
  am: {label: {zh: 上午, en: morning}, places: 10000}
  pm: {label: {zh: 下午, en: afternoon}, places: 10000}
departments:
"""


def family(pid: int) -> list[int]:
    """``pid`` and its live descendants (a node's worker processes)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(c) for c in children.read_text().split()] if children.exists() else []
    return [pid, *(p for kid in kids for p in family(kid))]


def cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of its live descendants."""
    total = 0.0
    for member in family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and of its live descendants, in MB."""
    total_kb = 0
    for member in family(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except FileNotFoundError:
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines()
                          if line.startswith("VmRSS:")), 0)
    return total_kb / 1024


def machine_times() -> tuple[int, int, int]:
    """(busy, steal, total) jiffies of all vCPUs (/proc/stat). Steal is time the hypervisor
    gave our vCPUs' physical cores to someone else while they had work: a disturbance no
    process here causes or can see."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle - fields[7], fields[7], sum(fields)


# ---------------------------------------------------------------- main


def print_turns(path: str) -> None:
    """The paced run's reactor turns and GC pauses (``BENCH_TURNS``, bench/ussd_servers.py)."""
    for _ in range(50):  # the server appends the line at its next reactor turn
        lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
        if len(lines) >= 2:
            break
        time.sleep(0.1)
    if len(lines) < 2:
        print("(b) BENCH_TURNS: the server wrote no counts")
        return
    last = json.loads(lines[-1])
    turn_ms = {int(k): v for k, v in last["turn_ms"].items()}
    slow = sum(v for k, v in turn_ms.items() if k >= 3)
    print(f"(b) reactor turns: {sum(turn_ms.values()):,}, of which {slow} worked 3 ms or more "
          f"(longest {max(turn_ms, default=0)} ms); GC pauses: {last['gc'] or 'none'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="closed-loop seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before each round")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--conns", type=int, default=50)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced hops/s")
    parser.add_argument("--paced-duration", type=float, default=10.0)
    parser.add_argument("--node-workers", type=int, default=2,
                        help="(c) repeats the paced run on a node of this many processes "
                             "(node.workers); 1 skips it")
    parser.add_argument("--fast-path", default="", metavar="PIECES",
                        help="also run a server with HOTLINE_FAST_PATH=PIECES (e.g. 0)")
    args = parser.parse_args()
    if os.environ.get("BENCH_TURNS"):
        Path(os.environ["BENCH_TURNS"]).unlink(missing_ok=True)  # this run's counts only

    from storage.embedded import RedisProcess

    scratch = Path(tempfile.mkdtemp(prefix="bench-ussd-"))
    catalog = scratch / "hospital.yaml"
    catalog.write_text(CATALOG + "".join(
        f"  - id: {i}\n    name: {{zh: {n}, en: {i}}}\n" for i, n in DEPTS), encoding="utf-8")
    redis = started(RedisProcess(data_dir=scratch / "redis", durable=False).start())
    procs: list[subprocess.Popen[str]] = []
    try:
        smsc, smsc_port = spawn("--serve-smsc")
        procs.append(smsc)
        ours, ours_port = spawn("--serve-ours", redis.url, str(catalog), str(scratch / "data"),
                                str(scratch / "hotline.log"), str(smsc_port))
        procs.append(ours)
        bare, bare_port = spawn("--serve-bare")
        procs.append(bare)
        lean, lean_port = spawn("--serve-bare-port")
        procs.append(lean)
        channel, channel_port = spawn("--serve-channel", redis.url)
        procs.append(channel)
        other: list[tuple[str, Any, int, bool]] = []
        if args.fast_path:
            alt, alt_port = spawn("--serve-ours", redis.url, str(catalog),
                                  str(scratch / "data-alt"), str(scratch / "alt.log"),
                                  str(smsc_port), env={"HOTLINE_FAST_PATH": args.fast_path})
            procs.append(alt)
            other.append(("alt", alt, alt_port, True))
        print(f"redis {redis.url}; hotline :{ours_port}; bare :{bare_port}; channel "
              f":{channel_port}; {args.conns} conns, {args.rounds} rounds of "
              f"{args.duration / args.rounds:g} s each after {args.warmup:g} s warm-up")

        def run(proc: subprocess.Popen[str], fn: Any) -> dict[str, Any]:
            cpu0, client0, t = cpu_seconds(proc.pid), time.process_time(), time.perf_counter()
            machine0 = machine_times()
            out: dict[str, Any] = fn()
            wall = time.perf_counter() - t
            busy, steal, total = (b - a for a, b in zip(machine0, machine_times(), strict=True))
            share = 100 / max(total, 1)
            out["machine"] = (f"the {os.cpu_count()} vCPUs {busy * share:.0f} % busy, "
                              f"{steal * share:.1f} % stolen by the host")
            out["server_cpu"] = 100 * (cpu_seconds(proc.pid) - cpu0) / wall
            out["client_cpu"] = 100 * (time.process_time() - client0) / wall
            out["rss_mb"] = rss_mb(proc.pid)
            return out

        # The machine is shared and its vCPUs have a fast and a slow mode: bare and ours
        # alternate in short rounds, and each side's best round is that side in the fast mode.
        slice_s = args.duration / args.rounds
        rows: dict[str, list[dict[str, Any]]] = {"bare": [], "ours": [], "channel": [],
                                                 "lean": [], "alt": []}
        targets = [("bare", bare, bare_port, False), ("ours", ours, ours_port, True), *other,
                   ("channel", channel, channel_port, True), ("lean", lean, lean_port, False)]
        for _ in range(args.rounds):
            for name, proc, port, stateful in targets:
                rows[name].append(run(proc, lambda p=port, st=stateful: closed_loop(
                    p, args.conns, slice_s, args.warmup, ours=st)))
        ratios = sorted(o["rate"] / b["rate"] for o, b in zip(rows["ours"], rows["bare"],
                                                               strict=True))
        ch_ratios = sorted(o["rate"] / b["rate"] for o, b in zip(rows["channel"], rows["bare"],
                                                                 strict=True))
        ratio, ch_ratio = ratios[len(ratios) // 2], ch_ratios[len(ch_ratios) // 2]
        best_ours = max(r["rate"] for r in rows["ours"])
        best_bare = max(r["rate"] for r in rows["bare"])
        best = best_ours / best_bare

        def cpu_us(row: dict[str, Any]) -> float:
            return row["server_cpu"] / 100 / max(row["rate"], 1e-9) * 1e6

        def show(name: str, what: str) -> None:
            for i, r in enumerate(rows[name], 1):
                extra = (f" ({r['bookings_per_s']:,.0f} bookings/s)"
                         if name in ("ours", "channel") else "")
                print(f"(a) round {i} {what}: {r['rate']:,.0f}/s{extra}, errors {r['errors']}, "
                      f"server CPU {r['server_cpu']:.0f} % ({cpu_us(r):.0f} µs per request), "
                      f"client CPU {r['client_cpu']:.0f} %, server RSS {r['rss_mb']:.0f} MB")

        show("bare", "bare twisted.web constant, req")
        show("ours", "hotline USSD full bookings, hops")
        if other:
            show("alt", f"hotline with HOTLINE_FAST_PATH={args.fast_path}, hops")
            alt_ratios = [cpu_us(a) / cpu_us(o) for o, a in zip(rows["ours"], rows["alt"],
                                                                strict=True)]
            print(f"(a) server CPU per hop, HOTLINE_FAST_PATH={args.fast_path} / ours, per round "
                  f"{', '.join(f'{x:.3f}' for x in alt_ratios)}; median "
                  f"{sorted(alt_ratios)[len(alt_ratios) // 2]:.3f}; best rounds' rates "
                  f"{max(r['rate'] for r in rows['alt']):,.0f} / {best_ours:,.0f} hops/s")
        show("channel", "diagnostic: USSD channel, effects from memory, hops")
        show("lean", "diagnostic: the same constant on hotline's HTTP port, req")
        print(f"(a) ratio ours/bare per round {', '.join(f'{x:.3f}' for x in ratios)}; "
              f"median {ratio:.3f}; channel-only/bare median {ch_ratio:.3f}")
        print(f"(a) best rounds: ours {best_ours:,.0f} hops/s, bare {best_bare:,.0f} req/s, "
              f"ratio {best:.3f} (each side in the vCPU's fast mode: the headline)")
        cpu_ratios = sorted(cpu_us(b) / cpu_us(o) for o, b in zip(rows["ours"], rows["bare"],
                                                                   strict=True))
        print(f"(a) the same in server CPU per request (less sensitive to a busy machine): "
              f"bare/ours per round {', '.join(f'{x:.3f}' for x in cpu_ratios)}")
        floor = sorted(cpu_us(r) for r in rows["lean"])[args.rounds // 2]
        print(f"(a) of a hop's server CPU, the HTTP port's own request handling is ~{floor:.0f} µs "
              f"(median round of the constant on it); the rest is the hop's work")
        capacity = sorted(r["rate"] for r in rows["ours"])[args.rounds // 2]

        def hop_us(row: dict[str, Any]) -> str:
            """Server CPU per hop at a paced rate: it grows as the rate falls, because the
            server sleeps between hops and wakes up slower (bench/wakeup.py)."""
            return f"{row['server_cpu'] / 100 / max(row['achieved'], 1e-9) * 1e6:.0f} µs per hop"

        turns = os.environ.get("BENCH_TURNS")
        if turns:
            os.kill(ours.pid, signal.SIGUSR1)  # the counts so far (start-up, closed loop) end
        p = run(ours, lambda: paced(ours_port, args.rate, args.paced_duration))
        if turns:
            os.kill(ours.pid, signal.SIGUSR1)
        print(f"(b) paced {args.rate:,.0f} hops/s offered, {p['achieved']:,.0f} achieved, "
              f"{p['hops']} hops on {p['conns']} conns: p50 {p['p50']:.2f} ms, "
              f"p99 {p['p99']:.2f} ms ({p['p99_sent']:.2f} ms from the real send), "
              f"max {p['max']:.1f} ms, errors {p['errors']}, "
              f"server CPU {p['server_cpu']:.0f} % ({hop_us(p)}); {p['machine']}")
        if turns:
            print_turns(turns)
        half = max(capacity / 2, 1.0)
        h = run(ours, lambda: paced(ours_port, half, args.paced_duration))
        print(f"(b) for scale: paced at half the measured capacity ({half:,.0f} hops/s): "
              f"p50 {h['p50']:.2f} ms, p99 {h['p99']:.2f} ms, errors {h['errors']}, "
              f"server CPU {h['server_cpu']:.0f} % ({hop_us(h)})")
        errors = h["errors"] + p["errors"] + sum(r["errors"] for rs in rows.values() for r in rs)
        extra = ""
        if args.node_workers > 1:
            node, node_port = spawn("--serve-ours", redis.url, str(catalog),
                                    str(scratch / "data-node"), str(scratch / "node.log"),
                                    str(smsc_port), str(args.node_workers))
            procs.append(node)
            closed_loop(node_port, args.conns, 1.0, 1.0, ours=True)  # warm every process up
            w = run(node, lambda: paced(node_port, args.rate, args.paced_duration))
            print(f"(c) the same {args.rate:,.0f} hops/s on one node of {args.node_workers} "
                  f"processes (node.workers; they share the 2 vCPUs with Redis and this load "
                  f"generator): {w['achieved']:,.0f} achieved, p50 {w['p50']:.2f} ms, "
                  f"p99 {w['p99']:.2f} ms ({w['p99_sent']:.2f} ms from the real send), "
                  f"max {w['max']:.1f} ms, errors {w['errors']}, "
                  f"node CPU {w['server_cpu']:.0f} % (all processes, {hop_us(w)}); "
                  f"{w['machine']}")
            errors += w["errors"]
            extra = f" p99_ms_{args.node_workers}proc={w['p99']:.2f}"
        print(f"BENCH ussd_http ratio={best:.3f} p99_ms={p['p99']:.2f} errors={errors}{extra} "
              f"ratio_median={ratio:.3f}")
        return 0
    finally:
        for proc in procs:  # (each is also stopped at exit if this is cut short)
            stop(proc)
        stop(redis)


if __name__ == "__main__":
    sys.exit(main())
