"""node.gc: validated settings, and the collector set up as they say after start-up."""

from __future__ import annotations

import gc

import pytest

from node.gctune import gc_settings, tune_gc
from settings.schema import SettingsError, load_settings


def test_defaults_freeze_and_raise_thresholds() -> None:
    assert gc_settings({}) == {"freeze": True, "thresholds": [20000, 50, 1000]}
    assert gc_settings("python") is None
    assert gc_settings({"freeze": False}) == {"freeze": False, "thresholds": [20000, 50, 1000]}


@pytest.mark.parametrize("bad", [
    "fast", {"freeze": "yes"}, {"thresholds": [1, 2]}, {"thresholds": [0, 10, 10]},
    {"thresholds": [700, True, 10]},
])
def test_bad_gc_settings_stop_the_start_with_a_clear_message(bad: object) -> None:
    with pytest.raises(SettingsError, match=r"node\.gc"):
        load_settings(None, {"node": {"gc": bad}})


def test_tune_gc_freezes_what_is_loaded_and_sets_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        tune_gc({"freeze": True, "thresholds": [12345, 20, 30]})
        assert gc.get_threshold() == (12345, 20, 30)
        assert gc.get_freeze_count() > 1000  # the modules loaded so far
        gc.unfreeze()
        tune_gc("python")  # leaves the collector alone
        assert gc.get_threshold() == (12345, 20, 30) and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
