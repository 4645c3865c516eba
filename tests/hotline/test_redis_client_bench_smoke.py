"""bench/redis_client.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_redis_client_bench_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "redis_client.py"), "--rounds", "2",
         "--commands", "400"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"BENCH redis_client burst_us=([\d.]+) burst_ratio=([\d.]+) "
                     r"single_us=([\d.]+) single_ratio=([\d.]+) single_rtt_us=(\d+)", last)
    assert m is not None, out.stdout
    assert all(float(x) > 0 for x in m.groups())
    rounds = [x for x in out.stdout.splitlines() if x.startswith("round ")]
    assert len(rounds) == 2 and "stock (baseline)" in out.stdout
