"""The log observer: one masked line per event, flushed once per reactor turn with a clock."""

from __future__ import annotations

import io
import time

from twisted.internet.task import Clock
from twisted.logger import LogLevel

from hotline.logs import MaskingObserver


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def event(text: str, at: float = 1_764_100_000.0) -> dict:
    return {"log_format": text, "log_level": LogLevel.info, "log_time": at}


def test_lines_are_masked_and_stamped_in_local_time() -> None:
    stream = CountingStream()
    MaskingObserver(stream)(event("call from 13800138000 id 11010519491231002X"))
    line = stream.getvalue()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(1_764_100_000))
    assert line == f"{stamp} [info] call from *******8000 id **************002X\n"
    assert stream.flushes == 1


def test_with_a_clock_one_flush_per_reactor_turn() -> None:
    stream, clock = CountingStream(), Clock()
    observer = MaskingObserver(stream, clock)
    for n in range(5):
        observer(event(f"hop {n}", at=1_764_100_000.0 + n / 10))
    assert stream.getvalue().count("\n") == 5
    assert stream.flushes == 0  # written, not yet flushed: the turn is not over
    clock.advance(0)
    assert stream.flushes == 1
    observer(event("next turn", at=1_764_100_001.5))
    clock.advance(0)
    assert stream.flushes == 2
    stamps = [line.split(" ")[0] for line in stream.getvalue().splitlines()]
    assert stamps[0] == stamps[4] != stamps[5]  # the cached stamp moves on with the second
