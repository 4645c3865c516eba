"""bench/ivr_calls.py runs end to end with tiny counts (the real run is not part of pytest)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [1, 2])
def test_ivr_calls_bench_smoke(workers: int) -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/ivr_calls.py"),
            "--calls",
            "12",
            "--concurrency",
            "6",
            "--think-ms",
            "10",
            "--limit-s",
            "60",
            "--workers",
            str(workers),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(
        r"BENCH ivr_calls p99_ms=[\d.]+ rss_mb=\d+ failed=(\d+) cpu_ratio=[\d.]+", last
    )
    assert m is not None, out.stdout
    assert m.group(1) == "0"
    assert "'completed:done': 12" in out.stdout
    each = re.search(r"calls each \[([\d, ]+)\]", out.stdout)
    assert each is not None and sum(map(int, each.group(1).split(","))) == 12
    assert len(each.group(1).split(",")) == workers
