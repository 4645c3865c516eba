"""Runs a bench script the way bench/RESULTS.md does, for the benches' smoke tests.

Each bench runs in a process group of its own: whatever it started and left running when it
exits fails the test (and is killed), and a bench that overruns its timeout is stopped with
everything it started (SIGTERM, then SIGKILL), not left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def group_alive(pgid: int) -> bool:
    """A process of the group still runs (an exited one not yet reaped, a zombie, does not)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended meanwhile
        if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp, ...
            return True
    return False


def stop_group(pgid: int, grace_s: float = 10.0) -> bool:
    """SIGTERM the group, SIGKILL what is left after ``grace_s``; whether anything was left."""
    if not group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting on other processes' exit: no clock of ours to advance
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return True


def run_bench(script: str, *args: str, timeout: float = 120) -> tuple[str, str]:
    """(everything the script printed, its last line: the BENCH line); fails on a non-zero
    exit with the script's stderr, and when the script left a process running."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc.pid)
        proc.communicate()
        raise
    left = stop_group(proc.pid, grace_s=1.0)
    assert proc.returncode == 0, stderr[-2000:]
    assert not left, f"{script} exited and left a process it started running"
    return stdout, stdout.strip().splitlines()[-1]
