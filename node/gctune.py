"""Garbage-collector settings for a long-running server process (``node.gc``).

A node keeps thousands of calls and dialogues alive. With CPython's default thresholds
(700, 10, 10) the collector keeps walking everything loaded at start-up (menus, catalog,
Twisted, phonenumbers' metadata) and the live calls; with many calls alive its full passes
pause the reactor long enough to set the FastAGI p99 (bench/RESULTS.md, ivr_calls).
After start-up, ``gc.freeze()`` moves what was loaded out of the collector's view, and higher
thresholds make collections rarer. Per-call and per-hop objects are freed by reference counting
(an ended call breaks its own cycles), so little cyclic garbage waits for a collection.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import Any

DEFAULT_GC: dict[str, Any] = {"freeze": True, "thresholds": [20000, 50, 1000]}


def gc_settings(raw: Any) -> dict[str, Any] | None:
    """The validated ``node.gc`` section; None (``node.gc: python``) leaves CPython's defaults."""
    if raw == "python":
        return None
    if not isinstance(raw, Mapping):
        raise ValueError("node.gc: expected 'python' or {freeze: bool, thresholds: [g0, g1, g2]}")
    freeze = raw.get("freeze", DEFAULT_GC["freeze"])
    thresholds = raw.get("thresholds", DEFAULT_GC["thresholds"])
    if not isinstance(freeze, bool):
        raise ValueError("node.gc.freeze: expected true or false")
    if (not isinstance(thresholds, list) or len(thresholds) != 3
            or not all(isinstance(t, int) and not isinstance(t, bool) and t > 0
                       for t in thresholds)):
        raise ValueError("node.gc.thresholds: expected three positive whole numbers")
    return {"freeze": freeze, "thresholds": list(thresholds)}


def tune_gc(raw: Any = DEFAULT_GC) -> None:
    """Apply ``node.gc``; call once, after start-up has loaded everything long-lived."""
    spec = gc_settings(raw)
    if spec is None:
        return
    gc.collect()  # what start-up left as garbage goes now, not into the frozen generation
    if spec["freeze"]:
        gc.freeze()
    gc.set_threshold(*spec["thresholds"])
