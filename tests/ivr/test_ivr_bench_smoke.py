"""bench/ivr_calls.py runs end to end with tiny counts (the real run is not part of pytest)."""

from __future__ import annotations

import re

import pytest
from bench_runner import run_bench


@pytest.mark.parametrize("workers", [1, 2])
def test_ivr_calls_bench_smoke(workers: int) -> None:
    stdout, last = run_bench("ivr_calls.py", "--calls", "12", "--concurrency", "6",
                             "--think-ms", "10", "--limit-s", "60", "--workers", str(workers))
    m = re.fullmatch(
        r"BENCH ivr_calls p99_ms=[\d.]+ rss_mb=\d+ failed=(\d+) cpu_ratio=[\d.]+", last
    )
    assert m is not None, stdout
    assert m.group(1) == "0"
    assert "'completed:done': 12" in stdout
    each = re.search(r"calls each \[([\d, ]+)\]", stdout)
    assert each is not None and sum(map(int, each.group(1).split(","))) == 12
    assert len(each.group(1).split(",")) == workers
