"""What a wake-up costs on this host: the same menu work, back to back and after an idle gap.

    .venv/bin/python bench/wakeup.py [--rounds 5] [--dialogues 300] [--gaps-ms 0.2,1,5]

A server at a realistic load sleeps between requests; one under a closed-loop load never does.
On some hosts (virtual machines whose idle vCPU halts, nested virtualisation) the first work
after a sleep runs with cold caches on a core that just woke, and costs several times its CPU
back to back. bench/ussd_http.py shows it as a hop costing far more server CPU at a paced
200 hops/s than in its closed loop. This measures it alone, with nothing else running: one
booking dialogue of the shipped menu (``menus.driver.Dialogue``, effects answered from memory,
no Twisted, no sockets), CPU time per dialogue back to back (the baseline, measured in the same
run) and with the process sleeping ``gap`` between dialogues. Rounds alternate between the
modes; each figure is the median of the rounds. A ratio near 1 means idle gaps are free here.
Last line: ``BENCH wakeup b2b_us=<n> slept_us=<n at the longest gap> ratio=<slept/b2b>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ID_KEYS = "11010519491231002*"  # a valid resident ID, X keyed as *
KEYS = ["1", "1", "1", "1", ID_KEYS, "1"]  # department, day, session, ID, confirm


def make_dialogue() -> Any:
    from ivr_servers import stub_effects

    from hotline.app import VALIDATORS
    from menus.definition import MenuSource, load_menu
    from menus.driver import Dialogue

    menus = MenuSource([load_menu(ROOT / "config" / "menus" / "booking.yaml")])
    return Dialogue(menus, stub_effects, VALIDATORS)


def finish(coroutine: Any) -> Any:
    """Run a coroutine that never waits (effects answered from memory) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the dialogue waited for something: effects must answer at once")


def one_booking(dialogue: Any) -> None:
    from menus.types import Digits

    session, output = finish(dialogue.begin("booking", channel="ussd", msisdn="8613800138000"))
    for key in KEYS:
        session, output = finish(dialogue.resume(session, Digits(key)))
    if not output.ends:
        raise RuntimeError(f"the booking did not end: {output.text()!r}")


def cpu_per_dialogue(dialogue: Any, count: int, gap_s: float) -> float:
    """CPU µs per dialogue; the sleep's own system call is outside the timed part."""
    spent = 0.0
    for _ in range(count):
        started = time.process_time()
        one_booking(dialogue)
        spent += time.process_time() - started
        if gap_s:
            time.sleep(gap_s)
    return spent / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dialogues", type=int, default=300, help="per mode and round")
    parser.add_argument("--gaps-ms", default="0.2,1,5", help="idle gaps to compare, in ms")
    args = parser.parse_args()
    gaps = [float(g) / 1000 for g in args.gaps_ms.split(",")]
    dialogue = make_dialogue()
    cpu_per_dialogue(dialogue, 50, 0)  # warm-up: imports, caches, the menu's first compile
    modes = [0.0, *gaps]
    runs: dict[float, list[float]] = {gap: [] for gap in modes}
    for _ in range(args.rounds):
        for gap in modes:
            runs[gap].append(cpu_per_dialogue(dialogue, args.dialogues, gap))
    median = {gap: statistics.median(values) for gap, values in runs.items()}
    base = median[0.0]
    print(f"one booking dialogue ({len(KEYS) + 1} menu steps), CPU per dialogue, median of "
          f"{args.rounds} rounds of {args.dialogues}:")
    for gap in modes:
        label = "back to back (baseline)" if gap == 0 else f"after sleeping {gap * 1000:g} ms"
        spread = ", ".join(f"{v:.0f}" for v in runs[gap])
        print(f"  {label}: {median[gap]:.0f} µs ({median[gap] / base:.2f}x; rounds {spread})")
    longest = median[max(gaps)]
    print(f"BENCH wakeup b2b_us={base:.0f} slept_us={longest:.0f} ratio={longest / base:.2f}")


if __name__ == "__main__":
    main()
