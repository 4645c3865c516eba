"""bench/cmpp_mt.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re

from bench_runner import run_bench


def test_bench_cmpp_mt_smoke() -> None:
    stdout, last = run_bench("cmpp_mt.py", "--count", "300", "--tps-seconds", "0.5",
                             timeout=90)
    m = re.fullmatch(r"BENCH cmpp_mt ratio=([\d.]+) dlr_ok=([\d.]+) tps_err=([\d.]+)", last)
    assert m is not None, stdout
    assert float(m[1]) > 0 and float(m[2]) == 1.0  # every report matched to its message
    assert "bare :" in stdout and "ours :" in stdout
