"""The Asterisk side of bench/ivr_calls.py: 1,000 concurrent callers over real FastAGI
connections, each keying every digit after its own pause; also the CPU and percentile helpers
the other parts share."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import sys
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


