"""bench/booking_flash.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re

from bench_runner import run_bench


def test_booking_flash_smoke() -> None:
    stdout, last = run_bench(
        "booking_flash.py", "--attempts", "400", "--clients", "20", "--places", "50",
        "--rounds", "1", "--scale", "2", "20", "--scale-attempts", "100",
        "--paced-rate", "500", "--paced-attempts", "100",
        "--platform-hospitals", "3", "--platform-departments", "2",
    )  # fmt: skip
    assert re.fullmatch(
        r"BENCH booking_flash ratio=\d+\.\d\d holds_per_s=\d+ p99_ms=\d+\.\d\d oversell=0 double=0"
        r" platform_hold_ratio=\d+\.\d\d platform_holds_per_s=\d+ platform_redis_us=\d+\.\d"
        r" redis_us=\d+\.\d",
        last,
    ), last
    assert "live 50 oversell 0 double 0" in stdout
    # 3 x 2 sessions of 50 // 6 = 8 places, 200 people: every session fills, none oversold
    assert "platform: 3 hospitals x 2 departments, the crowd on 2 of each (8 places" in stdout
    assert "live 48 oversell 0 double 0" in stdout
