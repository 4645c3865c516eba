"""What the console's live dashboard reads about the whole line: dialogues begun per minute,
the SMS outbox and how delivery went.

Dialogues per minute are counted in Redis (``hl:live:dlg:<channel>:<minute>``, kept two hours),
one INCR where a dialogue begins (``menus.driver.Dialogue``'s ``on_begin``), so the figure is the
node's and the platform's whole traffic whichever process or node served a call or a USSD
session; a per-process Prometheus counter read in the process answering the dashboard would show
only that process's share.

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
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.logger import Logger

import metrics

log = Logger()
KEEP_S = 2 * 3600
CHANNELS = ("ivr", "ussd")
OUTBOX = "hl:{sms}:"  # sms.redis_outbox's keys, as metrics reads them: q, f, dead


class Begun(Protocol):
    """What ``DialogueRate.hit`` reads of a dialogue's session (``menus.types.Session``)."""

    channel: str


def rate_key(channel: str, minute: int) -> str:
    return f"hl:live:dlg:{channel}:{minute}"


class DialogueRate:
    """Dialogues begun per channel and minute of ``clock`` (booking's notion of now)."""

    def __init__(self, redis: Any, clock: Any) -> None:
        self.redis, self.clock = redis, clock

    def hit(self, session: Begun) -> Deferred[None]:
        """``on_begin``: count the dialogue without waiting for Redis (the Deferred fires once
        it is counted); a Redis error loses the count, never the call."""
        key = rate_key(session.channel or "other", int(self.clock.seconds() // 60))
        d = ensureDeferred(self._count(key))
        d.addErrback(lambda f: log.warn("live.count_failed why={why}", why=f.getErrorMessage()))
        return d

    async def _count(self, key: str) -> None:
        await self.redis.incr(key)
        await self.redis.expire(key, KEEP_S)

    async def per_minute(self, minutes: int = 30) -> dict[str, list[int]]:
        """Per channel, the counts of the last ``minutes`` minutes, oldest first (the current,
        unfinished minute last)."""
        now = int(self.clock.seconds() // 60)
        out = {}
        for channel in CHANNELS:
            keys = [rate_key(channel, m) for m in range(now - minutes + 1, now + 1)]
            values = await self.redis.mget(keys)
            out[channel] = [int(v or 0) for v in values]
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
