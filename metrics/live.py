"""What the console's live dashboard reads about the whole line: dialogues begun per minute,
the SMS outbox and how delivery went.

Dialogues per minute are counted in Redis (``hl:live:dlg:<channel>:<minute>``, kept two hours):
each process counts the dialogues it begins (``menus.driver.Dialogue``'s ``on_begin``) and adds
them there once a second, so the figure is the node's and the platform's whole traffic whichever
process or node served a call or a USSD session; a per-process Prometheus counter read in the
process answering the dashboard would show only that process's share.

The outbox depth is read from Redis (the same keys as the ``hotline_sms_outbox_*`` facts of
``metrics``). Submits and delivery receipts are counted only as Prometheus counters, by
the process that holds the SMSC bind; they are read as ``/metrics`` reads them (with several
processes, from the multiprocess files of the whole node), so they are this node's since it
started.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from twisted.internet.defer import Deferred, ensureDeferred, succeed
from twisted.logger import Logger

import metrics

log = Logger()
KEEP_S = 2 * 3600
FLUSH_S = 1.0  # how often a process adds its dialogue counts to Redis
CHANNELS = ("ivr", "ussd")
OUTBOX = "hl:{sms}:"  # sms.redis_outbox's keys, as metrics reads them: q, f, dead


class Begun(Protocol):
    """What ``DialogueRate.hit`` reads of a dialogue's session (``menus.types.Session``)."""

    channel: str


def rate_key(channel: str, minute: int) -> str:
    return f"hl:live:dlg:{channel}:{minute}"


class DialogueRate:
    """Dialogues begun per channel and minute of ``clock`` (booking's notion of now).

    A dialogue is counted in the process (``hit``, on its first hop) and the counts go to Redis
    in one INCRBY per channel and minute when ``flush`` runs (the wiring: every ``FLUSH_S`` and
    once more at stop), not in two round trips per dialogue. A crash loses at most the last
    second's counts of one process; a Redis error loses that batch, never a call."""

    def __init__(self, redis: Any, clock: Any) -> None:
        self.redis, self.clock = redis, clock
        self._pending: dict[str, int] = {}

    def hit(self, session: Begun) -> None:
        key = rate_key(session.channel or "other", int(self.clock.seconds() // 60))
        self._pending[key] = self._pending.get(key, 0) + 1

    def flush(self) -> Deferred[None]:
        """Add what was counted since the last flush to Redis."""
        if not self._pending:
            return succeed(None)
        pending, self._pending = self._pending, {}
        d = ensureDeferred(self._add(pending))
        d.addErrback(lambda f: log.warn("live.count_failed dialogues={n} why={why}",
                                        n=sum(pending.values()), why=f.getErrorMessage()))
        return d

    async def _add(self, pending: dict[str, int]) -> None:
        for key, count in pending.items():
            await self.redis.incrby(key, count)
            await self.redis.expire(key, KEEP_S)

    async def per_minute(self, minutes: int = 30) -> dict[str, list[int]]:
        """Per channel, the counts of the last ``minutes`` minutes, oldest first (the current,
        unfinished minute last), with this process's counts not yet flushed."""
        now = int(self.clock.seconds() // 60)
        out = {}
        for channel in CHANNELS:
            keys = [rate_key(channel, m) for m in range(now - minutes + 1, now + 1)]
            values = await self.redis.mget(keys)
            out[channel] = [int(v or 0) + self._pending.get(k, 0) for k, v in zip(
                keys, values, strict=True)]
        return out


def _counter_totals() -> dict[str, float]:
    """``hotline_sms_submits`` and ``hotline_sms_receipts`` by label, as a scrape sees them."""
    if os.environ.get(metrics.MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        families = registry.collect()
    else:
        families = metrics.REGISTRY.collect()
    out: dict[str, float] = {}
    for family in families:
        if family.name not in ("hotline_sms_submits", "hotline_sms_receipts"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                label = next(iter(sample.labels.values()), "")
                key = f"{family.name.removeprefix('hotline_sms_')}:{label}"
                out[key] = out.get(key, 0.0) + sample.value
    return out


async def sms_figures(redis: Any) -> dict[str, Any]:
    """The outbox now (queued, sending, dead) and this node's submits and receipts."""
    totals = _counter_totals()
    receipts = {k.partition(":")[2]: int(v) for k, v in totals.items()
                if k.startswith("receipts:")}
    delivered = receipts.get("DELIVRD", 0)
    final = sum(v for stat, v in receipts.items() if stat not in ("ENROUTE", "ACCEPTD"))
    return {
        "queued": int(await redis.zcard(OUTBOX + "q")),
        "sending": int(await redis.zcard(OUTBOX + "f")),
        "dead": int(await redis.llen(OUTBOX + "dead")),
        "submitted": int(totals.get("submits:submitted", 0)),
        "failed": int(totals.get("submits:failed", 0)),
        "delivered": delivered,
        "receipts": final,
        "success": (delivered / final) if final else None,
    }
