"""Durability: kill -9 Redis (appendfsync always) in the middle of a booking burst, restart it on
the same directory with a fresh service (as after a server crash): every booking that was
confirmed to a caller is there, and ``hotline booking reconcile`` finds no drift."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest_twisted
from booking_support import MAIN, TOMORROW, make_id, phone
from twisted.internet.defer import Deferred, DeferredList

from booking import keys
from booking.api import BookingRequest
from booking.catalog import load_catalog
from booking.store import RedisBookingService
from storage.client import connect
from storage.embedded import RedisProcess

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "config/hospital.yaml")
DEPTS = [d.id for d in CATALOG.departments]


def req(n: int) -> BookingRequest:
    day = TOMORROW + dt.timedelta(days=n % 6)
    dept = DEPTS[n // 6 % len(DEPTS)]
    return BookingRequest(dept, day, ("am", "pm")[n % 2], make_id(n), phone(n), "ussd")


def reconcile_cli(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commands.main", "--config", str(ROOT / "config/hotline.yaml"),
         "booking", "--redis-url", url, "reconcile", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest_twisted.ensureDeferred
async def test_kill_9_mid_burst_loses_no_confirmed_booking(tmp_path: Path, clock) -> None:
    server = RedisProcess(tmp_path / "redis", durable=True).start()
    try:
        redis = await connect(server.url, reconnect=False)
        service = RedisBookingService(redis, CATALOG, clock)
        confirmed: list[str] = []

        async def one(n: int) -> None:
            booking = await service.book(req(n))
            confirmed.append(booking.tcode)
            if len(confirmed) == 150:
                server.kill()  # SIGKILL while the rest of the burst is in flight

        results = await DeferredList(
            [Deferred.fromCoroutine(one(n)) for n in range(600)], consumeErrors=True
        )
        failed = sum(1 for ok, _ in results if not ok)
        assert len(confirmed) >= 150 and failed > 0, (len(confirmed), failed)
        await redis.disconnect()

        restarted = RedisProcess(tmp_path / "redis", durable=True).start()
        redis = await connect(restarted.url, reconnect=False)
        try:
            fresh = RedisBookingService(redis, CATALOG, clock)  # the server restarted too
            for tcode in confirmed:
                stored = await redis.hgetall(keys.PLATFORM.booking(tcode))
                assert stored.get("status") == "confirmed", tcode
            assert await fresh.reconcile() == []
            done = reconcile_cli(restarted.url)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "reconcile: 0 counter(s) drifted" in done.stdout
            # a counter that disagrees with the bookings is reported, then fixed
            first = await fresh._load(confirmed[0])
            await redis.hincrby(MAIN.counts(first.dept_id, first.day, first.session), "r", 2)
            drift = reconcile_cli(restarted.url)
            assert drift.returncode == 1 and '"bucket": "r"' in drift.stdout, drift.stdout
            assert reconcile_cli(restarted.url, "--fix").returncode == 0
            assert await fresh.reconcile() == []
        finally:
            await redis.disconnect()
            restarted.stop()
    finally:
        server.stop()
