"""bench/smpp_mt.py runs end to end with tiny counts and prints its BENCH line."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
import pytest_twisted
from node_smsc import require_peer
from twisted.internet import reactor, utils

pytestmark = pytest.mark.peer
BENCH = Path(__file__).resolve().parents[2] / "bench" / "smpp_mt.py"


@pytest_twisted.ensureDeferred
async def test_bench_smpp_mt_smoke() -> None:
    require_peer()
    out, err, code = await utils.getProcessOutputAndValue(
        sys.executable, [str(BENCH), "--count", "300", "--tps-seconds", "0.5"],
        env=dict(os.environ), reactor=reactor)
    assert code == 0, err.decode(errors="replace")
    last = out.decode().strip().splitlines()[-1]
    m = re.fullmatch(r"BENCH smpp_mt rate=(\d+) ratio=([\d.]+) dlr_ok=([\d.]+) tps_err=([\d.]+)",
                     last)
    assert m is not None, last
    assert int(m[1]) > 0 and float(m[3]) == 1.0
