"""The fast path reaches into Twisted's and txredisapi's internals: after an upgrade of either,
check it again before trusting it."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from fastpath import CHECKED_AGAINST


@pytest.mark.parametrize("distribution", sorted(CHECKED_AGAINST))
def test_the_fast_path_was_checked_against_the_installed_release(distribution: str) -> None:
    installed, checked = version(distribution), CHECKED_AGAINST[distribution]
    assert installed == checked, (
        f"{distribution} {installed} is installed, but the fast path (fastpath/) was checked "
        f"against {checked}. Re-check the fast path against {installed}: read the internals "
        f"fastpath/send.py and fastpath/redis.py rely on (and ussd/httpport.py's handover "
        f"to twisted.web), run the suite with HOTLINE_FAST_PATH=1 and =0 and the benchmarks "
        f"in bench/RESULTS.md ('Fast path'), then set CHECKED_AGAINST in fastpath/__init__.py."
    )
