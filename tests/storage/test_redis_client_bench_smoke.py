"""bench/redis_client.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re

from bench_runner import run_bench


def test_redis_client_bench_smoke() -> None:
    stdout, last = run_bench("redis_client.py", "--rounds", "2", "--commands", "400")
    m = re.fullmatch(r"BENCH redis_client burst_us=([\d.]+) burst_ratio=([\d.]+) "
                     r"single_us=([\d.]+) single_ratio=([\d.]+) single_rtt_us=(\d+) "
                     r"send_burst_ratio=([\d.]+) send_single_ratio=([\d.]+)", last)
    assert m is not None, stdout
    assert all(float(x) > 0 for x in m.groups())
    rounds = [x for x in stdout.splitlines() if x.startswith("round ")]
    assert len(rounds) == 2 and "stock (baseline)" in stdout
