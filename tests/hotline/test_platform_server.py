"""A server of the demo platform (``catalog: config/hospitals``), wired by hotline.app, over real
sockets: SMS of two hospitals reach the SMSC simulator with two signatures; hospital admin tokens
act for their own hospital only; the hospitals' folder reloads (a removed hospital stops taking
bookings, its bookings stay valid; a broken file is refused); the older single ``hospital:``
file still serves alone."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from demo_booking import valid_id
from twisted.internet import task

from booking.api import BookingError, BookingRequest
from hotline.app import start
from settings.schema import load_settings

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
                       ("reserve", {"hospital": "ns-renmin", "dept": "gk", "day": day,
                                    "session": "am", "reserve": 0}),
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
        "data_dir": str(tmp_path), "hospital": str(ROOT / "config/hospital.yaml"),
        "booking": {"blacklist_scope": "hospital"}})
    running = await start(settings, reactor())
    try:
        assert running.booking.directory.platform.single
        assert (running.booking.person_scope, running.booking.blacklist_scope) == (
            "platform", "hospital")  # the settings reach booking
        url = f"http://127.0.0.1:{running.http_port}/ussd/at"
        form = {"sessionId": "one", "serviceCode": "*12580#", "phoneNumber": "13800138000",
                "networkCode": "46000", "text": ""}
        assert (await (await treq.post(url, data=form)).text("utf-8")).startswith("CON")
        screen = await (await treq.post(url, data={**form, "text": "1"})).text("utf-8")
        assert screen.startswith("CON") and "内科" in screen and "外科" in screen
    finally:
        await running.stop()


@pytest_twisted.async_yield_fixture
async def editable(redis_url, tmp_path):
    """A server of a copy of the demo folder (its hospitals edited by the test)."""
    folder = tmp_path / "hospitals"
    shutil.copytree(ROOT / "config/hospitals", folder)
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path), "catalog": str(folder),
        "admin": {"token": PLATFORM_TOKEN, "hospital_tokens": {"ns-renmin": NANSHAN_TOKEN}}})
    seen: list[tuple[str, str, str]] = []
    running = await start(settings, reactor(), on_sms=lambda to, src, text: seen.append(
        (to, src, text)))
    reload = running.service.core.getServiceNamed("menu-reload").reloader.reload_all  # SIGHUP's
    yield running, folder, reload, seen
    await running.stop()


async def kiosk(running: Any, tcode: str, kiosk_id: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{running.http_port}/api/kiosk/verify"
    response = await treq.post(url, data=json.dumps({"tcode": tcode, "kiosk_id": kiosk_id})
                               .encode())
    return response.code, json.loads(await response.text("utf-8"))


@pytest_twisted.ensureDeferred
async def test_a_reload_removes_a_hospital_keeps_its_bookings_and_refuses_a_broken_file(
        editable) -> None:  # fmt: skip
    running, folder, reload, seen = editable
    day = (dt.datetime.fromtimestamp(reactor().seconds(), running.booking.catalog.tz).date()
           + dt.timedelta(days=1))
    kept = await running.booking.book(BookingRequest(
        "gk", day, "am", valid_id(7), "8613600136000", "ussd", hospital_id="ns-renmin"))
    await until(lambda: len(seen) >= 1, "the booking SMS")
    assert seen[0][2].startswith("【南山医院】预约成功：骨科")
    day_q = f"day={day.isoformat()}"
    assert (await admin(running, NANSHAN_TOKEN, "GET", f"fill?{day_q}"))[0] == 200

    # a broken file: refused, everything stays
    broken = folder / "4-ft-ertong.yaml"
    good = broken.read_text(encoding="utf-8")
    broken.write_text(good.replace("  fee: 600\n", "  fee: 600\n  colour: blue\n"), "utf-8")
    [_, event] = reload()  # the menus' event, then the hospitals'
    assert event.outcome == "rejected" and f"{broken}:15:" in event.errors[0]
    assert (await admin(running, PLATFORM_TOKEN, "GET", f"fill?{day_q}&hospital=ft-ertong")
            )[0] == 200
    broken.write_text(good, "utf-8")

    # the hospital removed, and a kiosk registered to another one
    (folder / "2-ns-renmin.yaml").unlink()
    renmin = folder / "1-sz-renmin.yaml"
    renmin.write_text(renmin.read_text(encoding="utf-8").replace(
        "  kiosks: []", "  kiosks: [sz-lobby-1]"), "utf-8")
    [_, event] = reload()
    assert event.outcome == "loaded", event
    assert "ns-renmin" not in [h.id for h in await running.booking.hospitals()]
    status, body = await admin(running, PLATFORM_TOKEN, "GET", f"fill?{day_q}&hospital=ns-renmin")
    assert status == 404 and body["error"]["code"] == "unknown_hospital"
    with pytest.raises(BookingError) as refused:
        await running.booking.book(BookingRequest(
            "gk", day, "am", valid_id(8), "8613600136001", "ussd", hospital_id="ns-renmin"))
    assert refused.value.code == "unknown_hospital"
    # its booking stays valid: the kiosk registered to 市一医院 sends the patient there
    status, body = await kiosk(running, kept.tcode, "sz-lobby-1")
    assert status == 409 and body["error"]["code"] == "wrong_hospital"
    assert "南山区人民医院" in body["error"]["message"]
    assert (await kiosk(running, kept.tcode, "stray"))[0] == 403  # a registry now
    csv_text = (await admin(running, PLATFORM_TOKEN, "GET", f"bookings.csv?{day_q}"))[1]
    assert kept.tcode in csv_text and "ns-renmin" in csv_text
    await running.booking.cancel(kept.tcode, msisdn=kept.msisdn)
    await until(lambda: len(seen) >= 2, "the cancellation SMS")
    assert seen[1][2].startswith("【南山医院】已取消：骨科")


@pytest_twisted.ensureDeferred
async def test_a_hospital_token_acts_on_its_own_hospital(server) -> None:
    running, _ = server
    day = (dt.datetime.fromtimestamp(reactor().seconds(), running.booking.catalog.tz).date()
           + dt.timedelta(days=1))
    made = {h: (await running.booking.book(BookingRequest(
        "nk", day, "am", valid_id(20 + n), f"861350013{n:04d}", "ussd", hospital_id=h))).tcode
        for n, h in enumerate(("sz-renmin", "ns-renmin"))}
    day_q = f"day={day.isoformat()}"
    status, own = await admin(running, RENMIN_TOKEN, "GET", f"bookings.csv?{day_q}")
    assert status == 200 and made["sz-renmin"] in own and made["ns-renmin"] not in own
    assert (await admin(running, RENMIN_TOKEN, "GET", f"bookings.csv?{day_q}&hospital=sz-renmin")
            )[1] == own
    every = (await admin(running, PLATFORM_TOKEN, "GET", f"bookings.csv?{day_q}"))[1]
    assert all(code in every for code in made.values())

    status, body = await admin(running, RENMIN_TOKEN, "POST", "share", {"dept": "nk", "share": 0.5})
    assert status == 200, body
    fill = {(r["dept"], r["session"]): r for r in
            (await admin(running, RENMIN_TOKEN, "GET", f"fill?{day_q}"))[1]["sessions"]}
    nanshan = {(r["dept"], r["session"]): r for r in
               (await admin(running, NANSHAN_TOKEN, "GET", f"fill?{day_q}"))[1]["sessions"]}
    assert ("gk", "am") in nanshan and ("gk", "am") not in fill  # each its own departments
    status, body = await admin(running, NANSHAN_TOKEN, "POST", "session", {
        "dept": "nk", "day": day.isoformat(), "session": "am", "places": None})
    assert status == 200 and body["cancelled"] == [made["ns-renmin"]]
    assert (await running.booking.bookings_for(f"861350013{0:04d}"))[0].status.value == \
        "confirmed"  # 市一医院's booking untouched
    assert (await admin(running, RENMIN_TOKEN, "GET", "blacklist"))[0] == 200
