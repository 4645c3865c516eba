"""bench/ussd_http.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re

from bench_runner import run_bench


def test_ussd_http_bench_smoke() -> None:
    stdout, last = run_bench(
        "ussd_http.py", "--duration", "0.4", "--rounds", "2", "--warmup", "0.1", "--conns", "3",
        "--rate", "40", "--paced-duration", "0.3", "--node-workers", "2")
    m = re.fullmatch(
        r"BENCH ussd_http ratio=([\d.]+) p99_ms=([\d.]+) errors=(\d+) p99_ms_2proc=([\d.]+) "
        r"ratio_median=([\d.]+)", last
    )
    assert m is not None, stdout
    assert float(m.group(1)) > 0 and m.group(3) == "0" and float(m.group(4)) > 0
    assert float(m.group(5)) > 0
    assert "bookings/s" in stdout
    # the headline ratio is ours' best round over bare's best round
    ours = [float(r.replace(",", "")) for r in re.findall(
        r"hotline USSD full bookings, hops: ([\d,]+)/s", stdout)]
    bare = [float(r.replace(",", "")) for r in re.findall(
        r"bare twisted.web constant, req: ([\d,]+)/s", stdout)]
    assert len(ours) == len(bare) == 2
    best = max(ours) / max(bare)  # from rates printed to the unit, hence the rounding slack
    assert abs(float(m.group(1)) - best) <= best * (0.5 / max(ours) + 0.5 / max(bare)) + 0.0006
