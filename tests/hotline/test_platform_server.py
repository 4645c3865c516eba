"""A server of the demo platform (``catalog: config/hospitals``), wired by hotline.app, over real
sockets: SMS of two hospitals reach the SMSC simulator with two signatures; hospital admin tokens
act for their own hospital only; the older single ``hospital:`` file still serves alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import task

from hotline.app import start
from hotline.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
PLATFORM_TOKEN, RENMIN_TOKEN, NANSHAN_TOKEN = "p-token-1", "h-token-sz", "h-token-ns"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


async def until(predicate: Any, what: str, limit: float = 10.0) -> None:
    waited = 0.0
    while not predicate():
        if waited >= limit:
            raise AssertionError(f"timed out waiting for {what}")
        await task.deferLater(reactor(), 0.05, lambda: None)
        waited += 0.05


@pytest_twisted.async_yield_fixture
async def server(redis, redis_url, tmp_path):
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path), "catalog": str(ROOT / "config/hospitals"),
        "admin": {"token": PLATFORM_TOKEN,
                  "hospital_tokens": {"sz-renmin": RENMIN_TOKEN, "ns-renmin": NANSHAN_TOKEN}}})
    seen: list[tuple[str, str, str]] = []
    running = await start(settings, reactor(), on_sms=lambda to, src, text: seen.append(
        (to, src, text)))
    yield running, seen
    await running.stop()


async def booked_event(redis: Any, hospital: str, dept: str, tcode: str, phone: str) -> None:
    """A ``booked`` event as booking's Lua writes it onto hl:events (with its hospital)."""
    await redis.execute_command(
        "XADD", "hl:events", "*", "type", "booked", "tcode", tcode, "msisdn", phone,
        "dept", dept, "day", "2031-03-04", "session", "am", "lang", "zh", "reason", "",
        "ts", str(int(reactor().seconds())), "hospital", hospital)


@pytest_twisted.ensureDeferred
async def test_two_hospitals_bookings_reach_the_smsc_with_two_signatures(server, redis) -> None:
    _, seen = server
    await booked_event(redis, "sz-renmin", "nk", "1111111111", "8613800000001")
    await booked_event(redis, "ns-renmin", "gk", "2222222222", "8613800000002")
    await until(lambda: len(seen) >= 2, "two SMS at the SMSC simulator")
    texts = {to[-1]: text for to, _, text in seen}
    assert texts["1"].startswith("【市一医院】预约成功：内科") and "1111111111" in texts["1"]
    assert texts["2"].startswith("【南山医院】预约成功：骨科") and "2222222222" in texts["2"]
    assert all(source == "12580" for _, source, _ in seen)


async def admin(running: Any, token: str, method: str, path: str,
                body: dict | None = None) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{running.http_port}/api/admin/{path}"
    headers = {"Authorization": [f"Bearer {token}"]}
    if method == "GET":
        response = await treq.get(url, headers=headers)
    else:
        response = await treq.post(url, headers=headers,
                                   data=json.dumps(body or {}).encode("utf-8"))
    text = await response.text("utf-8")
    try:
        return response.code, json.loads(text)
    except ValueError:
        return response.code, text


@pytest_twisted.ensureDeferred
async def test_a_hospital_token_cannot_reach_another_hospital_nor_learn_it_exists(server) -> None:
    running, _ = server
    day = "2031-03-04"
    other = await admin(running, RENMIN_TOKEN, "GET", f"fill?day={day}&hospital=ns-renmin")
    nowhere = await admin(running, RENMIN_TOKEN, "GET", f"fill?day={day}&hospital=no-such")
    assert other[0] == nowhere[0] == 403 and other[1] == nowhere[1]  # the same answer
    assert other[1]["error"]["code"] == "forbidden"
    for path, body in (("share", {"hospital": "ns-renmin", "dept": "gk", "share": 0.5}),
                       ("session", {"hospital": "ns-renmin", "dept": "gk", "day": day,
                                    "session": "am", "places": 0}),
                       ("blacklist/lift", {"hospital": "ns-renmin", "id": "x", "reason": "r"})):
        assert (await admin(running, RENMIN_TOKEN, "POST", path, body))[0] == 403, path
    for path in (f"bookings.csv?day={day}&hospital=ns-renmin", "blacklist?hospital=ns-renmin",
                 "sms/status"):
        assert (await admin(running, NANSHAN_TOKEN if "sz" in path else RENMIN_TOKEN, "GET",
                            path))[0] == 403, path
    assert (await admin(running, RENMIN_TOKEN, "POST", "reconcile"))[0] == 403
    # the platform's token may do those; a wrong token is 401 whatever it asks
    assert (await admin(running, PLATFORM_TOKEN, "POST", "reconcile"))[0] == 200
    assert (await admin(running, PLATFORM_TOKEN, "GET", "sms/status"))[0] == 200
    assert (await admin(running, "h-token-s", "GET", f"fill?day={day}"))[0] == 401


@pytest_twisted.ensureDeferred
async def test_the_older_single_hospital_file_still_serves_alone(redis_url, tmp_path) -> None:
    """``hospital:`` naming one file: a platform of one, the departments at the first screen
    after "book" (no hospital question), the SMS signed with its name as before."""
    settings = load_settings(None, {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path), "hospital": str(ROOT / "config/hospital.yaml")})
    running = await start(settings, reactor())
    try:
        assert running.booking.directory.platform.single
        url = f"http://127.0.0.1:{running.http_port}/ussd/at"
        form = {"sessionId": "one", "serviceCode": "*12580#", "phoneNumber": "13800138000",
                "networkCode": "46000", "text": ""}
        assert (await (await treq.post(url, data=form)).text("utf-8")).startswith("CON")
        screen = await (await treq.post(url, data={**form, "text": "1"})).text("utf-8")
        assert screen.startswith("CON") and "内科" in screen and "外科" in screen
    finally:
        await running.stop()
