"""Flow-control arithmetic for one bind: a token bucket (TPS limit) and throttle backoff.

Pure: callers pass ``now`` (seconds from their injected clock); nothing here reads time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

MIN_WAIT = 0.001  # seconds


class TokenBucket:
    """``rate`` PDUs per second on average, at most ``burst`` at once (default: 50 ms worth,
    so a late reactor turn does not lose capacity and 200/s never sends 200 in one instant)."""

    def __init__(self, rate: float, burst: float | None = None, now: float = 0.0) -> None:
        if rate <= 0:
            raise ValueError(f"tps must be > 0, got {rate}")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate / 20)
        self.tokens = self.burst
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait(self, now: float) -> float:
        """Seconds until the next token: never less than ``MIN_WAIT`` while there is none, as
        a shorter delay added to a unix time can round back to the same float and a clock
        would wake the window at the same instant forever."""
        self._refill(now)
        return 0.0 if self.tokens >= 1.0 else max((1.0 - self.tokens) / self.rate, MIN_WAIT)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Pause after the n-th consecutive throttle response: 1, 2, 4 ... capped at 30 s."""

    initial: float = 1.0
    cap: float = 30.0

    def delay(self, n: int) -> float:
        return min(self.initial * 2 ** max(n - 1, 0), self.cap)


def check_window(window: int) -> int:
    if not 1 <= int(window) <= 100:
        raise ValueError(f"window must be 1-100, got {window}")
    return int(window)


def reconnect_policy(initial: float = 1.0, cap: float = 60.0, factor: float = 2.0,
                     jitter: float = 0.2, rng: Callable[[], float] = random.random,
                     ) -> Callable[[int], float]:
    """Delay before reconnect attempt n (n >= 1 failures): 1, 2, 4 ... 60 s, each stretched by
    up to ``jitter`` (20 %) so many senders do not reconnect in step."""

    def policy(attempt: int) -> float:
        return min(initial * factor ** max(attempt - 1, 0), cap) * (1 + jitter * rng())

    return policy
