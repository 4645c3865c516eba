"""Stopping runs every step newest first, and a stuck step does not hold up the rest."""

from __future__ import annotations

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.task import Clock

from hotline.stopping import stop_all


def test_steps_run_newest_first_and_failures_do_not_stop_the_rest() -> None:
    ran: list[str] = []

    def boom() -> None:
        ran.append("boom")
        raise RuntimeError("unbind failed")

    async def coroutine_step() -> None:
        ran.append("coroutine")

    stoppers = [lambda: ran.append("redis"), boom, coroutine_step]
    done = ensureDeferred(stop_all(stoppers, "test", clock=Clock()))
    assert done.called
    assert ran == ["coroutine", "boom", "redis"]
    assert stoppers == []


def test_a_stuck_step_is_given_up_after_its_timeout() -> None:
    clock, ran = Clock(), []
    stuck: Deferred[None] = Deferred()
    stoppers = [lambda: ran.append("redis"), lambda: stuck]
    done = ensureDeferred(stop_all(stoppers, "test", clock=clock, step_timeout_s=5))
    clock.advance(4.9)
    assert not done.called and ran == []
    clock.advance(0.2)
    assert done.called and ran == ["redis"]
