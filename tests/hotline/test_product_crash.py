"""Durability of the whole product: ``hotline serve`` and its Redis are both killed with SIGKILL in
the middle of a burst of USSD bookings. After both restart, every booking whose END screen (with
its T-code) reached a caller is there and confirmed, and reconcile finds no drift."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import defer, task

from booking.catalog import load_catalog
from booking.idcard import check_char
from booking.store import RedisBookingService
from storage.client import connect
from storage.embedded import RedisProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
PEOPLE = 40
CRASH_AFTER = 5  # confirmed bookings before the crash


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def person(n: int) -> tuple[str, str]:
    first17 = f"44030519850101{n:03d}"
    return f"139{n:08d}", first17 + check_char(first17)


def start_server(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "commands.main", "--config", str(config), "serve"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def until_healthy(port: int) -> None:
    for _ in range(200):
        try:
            response = await treq.get(f"http://127.0.0.1:{port}/healthz").addTimeout(1, reactor())
            if response.code == 200:
                return
        except Exception:
            pass
        await task.deferLater(reactor(), 0.05, lambda: None)  # a process is starting up
    raise AssertionError("hotline serve did not become healthy")


async def book(port: int, n: int, confirmed: dict[str, str], enough: defer.Deferred[None]) -> None:
    await task.deferLater(reactor(), n * 0.02, lambda: None)  # callers arrive over ~0.8 s
    phone, id_number = person(n)
    inputs: list[str] = []
    for _ in range(12):
        form = {"sessionId": f"crash-{n}", "serviceCode": "*12580#", "phoneNumber": phone,
                "networkCode": "46000", "text": "*".join(inputs)}
        response = await treq.post(f"http://127.0.0.1:{port}/ussd/at", data=form)
        reply = await response.text("utf-8")
        if reply.startswith("END "):
            found = TCODE.search(reply)
            if found:
                confirmed[found.group(0)] = "86" + phone
                if len(confirmed) == CRASH_AFTER and not enough.called:
                    enough.callback(None)  # crash now, while later callers are mid-dialogue
            return
        inputs.append(id_number.replace("X", "*") if "身份证号码" in reply else "1")


@pytest_twisted.ensureDeferred
async def test_kill_server_and_redis_mid_burst_loses_no_confirmed_booking(tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis"
    redis_server = RedisProcess(data_dir=redis_dir, durable=True).start()
    http_port = free_port()
    config = tmp_path / "hotline.yaml"
    config.write_text(
        f"redis: {{url: '{redis_server.url}'}}\n"
        f"http: {{port: {http_port}}}\n"
        f"ivr: {{fastagi: {{port: {free_port()}}}}}\n"
        f"menus: ['{ROOT}/config/menus/booking.yaml']\n"
        f"hospital: '{ROOT}/config/hospital.yaml'\n"
        f"sms: {{templates: '{ROOT}/config/sms.yaml'}}\n"
        f"data_dir: '{tmp_path}'\n"
    )
    server = start_server(config)
    confirmed: dict[str, str] = {}
    try:
        await until_healthy(http_port)
        enough: defer.Deferred[None] = defer.Deferred()
        burst = [
            defer.ensureDeferred(book(http_port, n, confirmed, enough)) for n in range(PEOPLE)
        ]
        await enough
        os.kill(server.pid, signal.SIGKILL)
        redis_server.kill()
        await defer.DeferredList(burst, consumeErrors=True)
        server.wait()
        assert CRASH_AFTER <= len(confirmed) < PEOPLE  # the crash cut the burst short

        redis_server = RedisProcess(data_dir=redis_dir, durable=True, port=redis_server.port)
        redis_server.start()
        server = start_server(config)
        await until_healthy(http_port)  # the server comes back on the same data
        redis = await connect(redis_server.url, reconnect=False)
        try:
            service = RedisBookingService(
                redis, load_catalog(ROOT / "config/hospital.yaml"), reactor()
            )
            for tcode, msisdn in confirmed.items():
                mine = {b.tcode: b for b in await service.bookings_for(msisdn)}
                assert tcode in mine, f"confirmed booking {tcode} lost in the crash"
                assert mine[tcode].status.value == "confirmed"
            assert await service.reconcile() == []
        finally:
            await redis.disconnect()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait()
        redis_server.stop()
