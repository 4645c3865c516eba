"""bench/booking_flash.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_booking_flash_smoke() -> None:
    done = subprocess.run(
        [sys.executable, "bench/booking_flash.py", "--attempts", "400", "--clients", "20",
         "--places", "50", "--rounds", "1", "--scale", "2", "20", "--scale-attempts", "100",
         "--paced-rate", "500", "--paced-attempts", "100"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"BENCH booking_flash ratio=\d+\.\d\d holds_per_s=\d+ p99_ms=\d+\.\d\d oversell=0 double=0",
        last,
    ), last
    assert "live 50 oversell 0 double 0" in done.stdout
