"""bench/machine.py: its spell counting, and a short run that prints its BENCH line."""

from __future__ import annotations

import re
import sys

from bench_runner import ROOT, run_bench

sys.path.insert(0, str(ROOT / "bench"))

from machine import slow_spells


def test_slow_spells_are_runs_of_slow_samples_in_ms() -> None:
    assert slow_spells([3, 5, 5, 3, 6, 3, 5], threshold=4) == [10, 6, 5]
    assert slow_spells([3, 3], threshold=4) == []


def test_machine_bench_smoke() -> None:
    stdout, last = run_bench("machine.py", "--seconds", "0.3", "--lookups", "2000", timeout=60)
    m = re.fullmatch(r"BENCH machine fast_ms=([\d.]+) median_ms=([\d.]+) slow_share=([\d.]+) "
                     r"longest_slow_s=([\d.]+) samples=(\d+)", last)
    assert m is not None, stdout
    fast, median, share = float(m.group(1)), float(m.group(2)), float(m.group(3))
    assert 0 < fast <= median and 0 <= share < 1 and int(m.group(5)) > 10
    assert "the baseline" in stdout
