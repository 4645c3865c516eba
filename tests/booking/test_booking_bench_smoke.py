"""bench/booking_flash.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re

from bench_runner import run_bench


def test_booking_flash_smoke() -> None:
    stdout, last = run_bench(
        "booking_flash.py", "--attempts", "400", "--clients", "20", "--places", "50",
        "--rounds", "1", "--scale", "2", "20", "--scale-attempts", "100",
        "--paced-rate", "500", "--paced-attempts", "100",
    )  # fmt: skip
    assert re.fullmatch(
        r"BENCH booking_flash ratio=\d+\.\d\d holds_per_s=\d+ p99_ms=\d+\.\d\d oversell=0 double=0",
        last,
    ), last
    assert "live 50 oversell 0 double 0" in stdout
