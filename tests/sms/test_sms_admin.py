"""The SMS outbox in the admin API of the wired server: status, dead letters with reasons,
one message's state (numbers masked), all behind the admin bearer token."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import defer, reactor

from hotline.app import start
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]


async def get(port: int, path: str, token: str | None = "t0ken") -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await treq.get(f"http://127.0.0.1:{port}/api/admin/sms/{path}", headers=headers)
    return response.code, json.loads(await response.text("utf-8"))


@pytest_twisted.ensureDeferred
async def test_admin_api_shows_outbox_and_dead_letters(redis, redis_url, tmp_path) -> None:
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path), "admin": {"token": "t0ken"}})
    arrived: defer.Deferred[None] = defer.Deferred()
    running = await start(settings, reactor, on_sms=lambda to, src, text: arrived.callback(None))
    try:
        day = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        for tcode, msisdn in (("1000000001", "12ab"), ("1000000002", "8613800138000")):
            await redis.execute_command(
                "XADD", "hl:events", "*", "type", "booked", "tcode", tcode, "msisdn", msisdn,
                "dept", "nk", "day", day, "session", "am", "lang", "zh", "reason", "",
                "ts", str(int(reactor.seconds())))
        await arrived.addTimeout(10, reactor)
        port = running.http_port
        assert (await get(port, "status", token=None))[0] == 401
        code, dead = await get(port, "dead")
        assert code == 200 and dead["dead"][0]["key"] == "booked:1000000001"
        # a destination of 4 characters or fewer is masked whole (pii.mask_tail)
        assert "1-20 digits" in dead["dead"][0]["reason"] and dead["dead"][0]["to"] == "****"
        code, status = await get(port, "status")
        assert status["dead"] == 1 and status["queued"] == 0
        for _ in range(100):  # its submit_sm_resp may still be on the way
            code, one = await get(port, "message?key=booked:1000000002")
            if one["state"] != "sending":
                break
        assert one["to"] == "*********8000" and one["state"] in ("submitted", "delivered")
        assert "text" not in one
    finally:
        await running.stop()
