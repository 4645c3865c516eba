"""Benchmarks stop every process they started, also when they end early (bench/children.py):
on ``sys.exit`` before the end, on an exception, on SIGTERM, and under ``task.react`` whose
suspended coroutine never reaches its ``finally``. Each case runs in a process group of its own;
after it exits the group must be empty."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from bench_runner import ROOT, stop_group
from node_smsc import require_peer

SCRIPT = """
import subprocess, sys
sys.path.insert(0, {bench!r})
from children import started

child = started(subprocess.Popen(["sleep", "300"]))
print(child.pid, flush=True)
mode = sys.argv[1]
if mode == "exit":
    sys.exit(3)
if mode == "raise":
    raise RuntimeError("a bench that fails half-way")
if mode == "sigterm":
    sys.stdin.read()  # until the test's SIGTERM
if mode == "react":
    from twisted.internet import defer, task
    task.react(lambda reactor: defer.Deferred())  # SIGTERM stops the reactor
"""


def run_until_ready(argv: list[str], ready: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if ready in line:
            return proc
    stop_group(proc.pid)
    raise AssertionError(f"never ready: {proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.parametrize("mode", ["exit", "raise", "sigterm", "react"])
def test_children_are_stopped_on_every_early_exit(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "bench_early.py"
    script.write_text(SCRIPT.format(bench=str(ROOT / "bench")), encoding="utf-8")
    proc = run_until_ready([sys.executable, str(script), mode], "")  # its first line: the pid
    if mode in ("sigterm", "react"):
        proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=30) != 0
    finally:  # whatever happens, nothing of this test is left running
        left = stop_group(proc.pid, grace_s=1.0)
    assert not left, f"{mode}: the bench exited and left its child running"


def test_smpp_mt_stopped_half_way_leaves_no_redis_and_no_peer() -> None:
    require_peer()
    proc = run_until_ready([sys.executable, "bench/smpp_mt.py", "--count", "1000000"],
                           "smpp_mt: SMSC")  # printed once redis-server and the peer run
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        left = stop_group(proc.pid, grace_s=1.0)
    assert not left, "bench/smpp_mt.py left redis-server or the SMSC peer running"
