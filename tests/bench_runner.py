"""Runs a bench script the way bench/RESULTS.md does, for the benches' smoke tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str, timeout: float = 120) -> tuple[str, str]:
    """(everything the script printed, its last line: the BENCH line); fails on a non-zero
    exit with the script's stderr."""
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args],
                         capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout, out.stdout.strip().splitlines()[-1]
