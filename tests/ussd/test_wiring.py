"""The USSD channel as hotline.app wires it from settings: /ussd/at, /ussd/hubtel and the
USSD-over-SMPP bind to an npm smpp USSD centre, all in one started server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from ussdc_peer import start_node_ussdc

from hotline.app import start
from hotline.ussd_wiring import limits_for, mount
from settings.schema import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest_twisted.ensureDeferred
async def test_app_serves_every_gateway_kind(redis, redis_url, tmp_path) -> None:
    peer = await start_node_ussdc(reactor, "--system-id", "hlussd", "--password", "pw")
    port = await peer.listening
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path),
        "ussd": {"smpp": {"host": "127.0.0.1", "port": port, "system_id": "hlussd",
                          "password": "pw"},
                 "gateways": {"hubtel": {"limits": {"ucs2": 40}}}},
    })
    running = await start(settings, reactor)
    try:
        base = f"http://127.0.0.1:{running.http_port}/ussd"
        resp = await treq.post(f"{base}/at", data={"sessionId": "w1",
                                                   "phoneNumber": "+8613800138000", "text": ""})
        assert (await treq.text_content(resp, encoding="utf-8")).startswith("CON 欢迎使用")
        resp = await treq.post(f"{base}/hubtel", json={
            "Type": "Initiation", "SessionId": "w2", "Mobile": "8613900139000",
            "Message": "*125#", "Sequence": 1})
        body = json.loads(await treq.text_content(resp, encoding="utf-8"))
        assert body["Type"] == "response" and body["Message"].startswith("欢迎使用")
        assert len(body["Message"]) <= 40  # this gateway's own screen limit
        assert await peer.next("bound", reactor) == "hlussd"
        peer.mo(source_addr="8613700137000", destination_addr="125", ussd_service_op=1,
                short_message="*125#", its_session_info_hex="0500")
        screen = await peer.next("submit", reactor)
        assert screen["text"].startswith("欢迎使用") and screen["ussd_service_op"] == 2
    finally:
        await running.stop()
        await peer.stop()


def test_settings_are_checked() -> None:
    settings = load_settings(None, {"ussd": {"limits": {"ucs2": 60},
                                             "gateways": {"at": {"limits": {"gsm": 100}}}}})
    assert (limits_for(settings, "at").gsm, limits_for(settings, "at").ucs2) == (100, 60)
    assert limits_for(settings, "smpp").gsm == 182
    with pytest.raises(SettingsError, match="limits"):
        limits_for(load_settings(None, {"ussd": {"limits": {"ucs2": 3}}}), "at")
    from twisted.web.resource import Resource

    for smpp, why in [({"host": "x"}, "needs host"),
                      ({"host": "x", "port": 1, "system_id": "a", "colour": 1}, "unknown"),
                      ({"host": "x", "port": 1, "system_id": "a", "ops": {"new": 999}}, "ops")]:
        bad: Settings = load_settings(None, {"ussd": {"smpp": smpp}})
        with pytest.raises(SettingsError, match=why):
            mount(Resource(), bad, object(), object(), reactor)  # type: ignore[arg-type]
