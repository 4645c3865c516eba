"""How steady this machine's CPU is: one fixed pure-Python loop, timed again and again.

    .venv/bin/python bench/machine.py [--seconds 20] [--lookups 50000]

Each sample looks ``--lookups`` keys up in a 1,000-entry dict (it stays in the core's caches,
so only the core's speed counts) for ``--seconds``. On a dedicated core every sample takes about
the same time. On a shared virtual machine the samples fall into a fast and a slow mode: this
one's vCPUs ran ~1.6–1.8x slower for 5–86 % of a 20 s run (31 runs on 2026-11-26), in
spells of up to ~4 s, with 0.1 % of steal time in ``/proc/stat``: the hypervisor did not take
the vCPU away, it ran slower, as a core does when the other hardware thread of its physical core
is busy.

Why it matters: bench/ussd_http.py compares two servers measured one after the other in rounds
of a few seconds, so each round's speed depends on how much of it fell in the slow mode. Run this
before or next to a ratio to see what kind of machine produced it.

The baseline is the fast mode, taken as the 5th percentile of the samples (one lucky sample
would be a poor yardstick); the slow mode is every sample 1.3x that or more. The last line is
``BENCH machine fast_ms=<5th percentile> median_ms=<median> slow_share=<fraction of samples in
the slow mode> longest_slow_s=<longest slow spell> samples=<n>``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time


def timed_lookups(table: dict[int, int], keys: list[int]) -> float:
    """Milliseconds to look every key up."""
    started = time.perf_counter()
    for key in keys:
        table[key]
    return (time.perf_counter() - started) * 1000


def slow_spells(samples: list[float], threshold: float) -> list[float]:
    """Lengths in ms of the runs of consecutive samples at or above ``threshold``."""
    spells: list[float] = []
    current = 0.0
    for ms in samples:
        if ms >= threshold:
            current += ms
        elif current:
            spells.append(current)
            current = 0.0
    if current:
        spells.append(current)
    return spells


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--lookups", type=int, default=50_000)
    args = parser.parse_args()
    rng = random.Random(1)
    table = {i: i for i in range(1000)}
    keys = [rng.randrange(1000) for _ in range(args.lookups)]
    samples: list[float] = []
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        samples.append(timed_lookups(table, keys))
    fast = sorted(samples)[len(samples) // 20]
    threshold = 1.3 * fast
    slow = [ms for ms in samples if ms >= threshold]
    spells = slow_spells(samples, threshold)
    median = statistics.median(samples)
    print(f"{len(samples):,} samples of {args.lookups:,} lookups over {args.seconds:g} s: "
          f"fast mode {fast:.2f} ms (5th percentile, the baseline), median {median:.2f} ms, "
          f"slowest {max(samples):.2f} ms")
    slow_mode = f", median {statistics.median(slow):.2f} ms" if slow else ""
    print(f"slow mode (>= {threshold:.2f} ms): {len(slow) / len(samples):.0%} of samples"
          f"{slow_mode}; {len(spells)} spells, the longest {max(spells, default=0) / 1000:.2f} s")
    print(f"BENCH machine fast_ms={fast:.2f} median_ms={median:.2f} "
          f"slow_share={len(slow) / len(samples):.2f} "
          f"longest_slow_s={max(spells, default=0) / 1000:.2f} samples={len(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
