"""The console on a platform of two hospitals: each hospital's staff see and change their own
hospital's schedule and bookings alone; the operator's staff choose a hospital."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted
from console_support import DAY1, PASSWORD, ROOT, START, Client, Inbox, client, reactor, valid_id
from twisted.internet import task

from booking.api import BookingRequest
from hotline.app import start
from settings.schema import load_settings
from web.console.accounts import Accounts


def hospital_file(folder: Path, hid: str, code: str, name: str) -> None:
    text = (ROOT / "config/hospital.yaml").read_text(encoding="utf-8")
    head, rest = text.split("hospital:\n", 1)
    rest = rest.split("\n", 3)[3]  # the demo's name (3 lines) goes: each file names its own
    (folder / f"{hid}.yaml").write_text(
        f"{head}hospital:\n  id: {hid}\n  code: '{code}'\n  name: {{zh: {name}, en: {hid}}}\n"
        f"{rest}", encoding="utf-8")


class Platform:
    def __init__(self, running: Any, clock: task.Clock, accounts: Accounts) -> None:
        self.running, self.clock, self.accounts = running, clock, accounts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.running.http_port}"


@pytest_twisted.async_yield_fixture
async def platform(redis, redis_url, tmp_path):
    folder = tmp_path / "hospitals"
    folder.mkdir()
    hospital_file(folder, "city1", "1", "市一医院")
    hospital_file(folder, "city2", "2", "市二医院")
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "sms": {"smpp": None, "cmpp": None}, "data_dir": str(tmp_path), "hospital": str(folder),
        "booking": {"listing_cache_s": 0.0}})
    clock = task.Clock()
    clock.advance(START)
    running = await start(settings, reactor(), clock=clock, on_sms=Inbox())
    accounts = Accounts(redis)
    await accounts.add("ann1", "city1", "admin", PASSWORD)
    await accounts.add("bob2", "city2", "clerk", PASSWORD)
    await accounts.add("pat", "*", "admin", PASSWORD)
    yield Platform(running, clock, accounts)
    await running.stop()


@pytest_twisted.ensureDeferred
async def test_each_hospitals_staff_see_and_change_their_own_alone(platform: Any) -> None:
    booking = platform.running.booking
    taken = await booking.book(BookingRequest("nk", DAY1, "am", valid_id(60), "8613500001234",
                                              "ussd", hospital_id="city2"))
    ann, bob = await client(platform, "ann1"), await client(platform, "bob2")
    for q in ("1234", taken.tcode):
        page = await (await ann.get("/console/h/city1/bookings", {"q": q})).text()
        assert f"<td>{taken.tcode}</td>" not in page and "结果: 0" in page
    answer = await ann.post("/console/h/city1/cancel", {"tcode": taken.tcode, "reason": "x"})
    assert answer.code == 404
    assert (await ann.get("/console/h/city2/bookings", {"q": "1234"})).code == 403
    page = await (await bob.get("/console/h/city2/bookings", {"q": "1234"})).text()
    assert f"<td>{taken.tcode}</td>" in page and "市二医院" in page
    assert (await ann.post("/console/h/city1/share", {"dept": "nk", "share": "0"})).code == 303
    one = {r["dept"]: r for r in await booking.fill(DAY1, hospital_id="city1")
           if r["session"] == "am"}
    two = {r["dept"]: r for r in await booking.fill(DAY1, hospital_id="city2")
           if r["session"] == "am"}
    assert one["nk"]["remote_quota"] == 0 and two["nk"]["remote_quota"] == 48
    answer = await bob.post("/console/h/city2/cancel", {"tcode": taken.tcode, "reason": "来电"})
    assert answer.code == 303
    assert all(b.status == "cancelled" for b in await booking.bookings_for("8613500001234"))
    page = await (await bob.get("/console/h/city2/bookings", {"q": taken.tcode})).text()
    assert 'class="status">已取消<' in page


@pytest_twisted.ensureDeferred
async def test_a_reserve_set_at_one_hospital_stays_there(platform: Any) -> None:
    booking = platform.running.booking
    ann = await client(platform, "ann1")
    cell = {"dept": "nk", "day": DAY1.isoformat(), "session": "am", "places": "60",
            "reserve": "30"}
    assert (await ann.post("/console/h/city2/cell", cell)).code == 403  # not her hospital
    assert (await ann.post("/console/h/city1/cell", cell)).code == 303

    async def left(hid: str) -> int:
        rows = await booking.sessions("nk", DAY1, hospital_id=hid)
        return next(s.remote_left for s in rows if s.session == "am")

    assert (await left("city1"), await left("city2")) == (30, 48)


@pytest_twisted.ensureDeferred
async def test_the_operators_staff_choose_a_hospital(platform: Any) -> None:
    pat = Client(platform)
    assert (await pat.login("pat")).code == 303
    home = await (await pat.http.get(f"{platform.url}/console/")).text()
    assert "/console/h/city1/schedule" in home and "/console/h/city2/schedule" in home
    for hid in ("city1", "city2"):
        assert (await pat.get(f"/console/h/{hid}/schedule")).code == 200
    assert (await pat.get("/console/h/city3/schedule")).code == 404


@pytest_twisted.ensureDeferred
async def test_appeals_and_the_dashboard_stay_with_their_hospital(platform: Any) -> None:
    import json

    booking = platform.running.booking
    phone = "8613500005678"
    for n in range(3):  # three cancels at city2 bar the ID there
        b = await booking.book(BookingRequest(("nk", "wk", "ek")[n], DAY1, "am", valid_id(61),
                                              phone, "ussd", hospital_id="city2"))
        await booking.cancel(b.tcode)
    await booking.book(BookingRequest("nk", DAY1, "pm", valid_id(62), phone, "sms",
                                             hospital_id="city2"))
    [filed] = await booking.appeal(phone, "误操作取消")
    assert filed["hospital"] == "city2"
    ann, bob = await client(platform, "ann1"), await client(platform, "bob2")
    page = await (await ann.get("/console/h/city1/blacklist")).text()
    assert "误操作取消" not in page
    form = {"digest": filed["id_digest"], "decision": "lift", "reason": "x"}
    assert (await ann.post("/console/h/city1/appeal", form)).code == 404  # not city1's
    assert (await ann.post("/console/h/city2/appeal", form)).code == 403
    assert (await ann.get("/console/h/city2/dashboard.json")).code == 403
    mine = json.loads(await (await ann.get("/console/h/city1/dashboard.json")).text())
    assert all(d["totals"]["channels"]["sms"] == 0 for d in mine["days"])  # city2's booking
    theirs = json.loads(await (await bob.get("/console/h/city2/dashboard.json")).text())
    assert theirs["days"][1]["totals"]["channels"]["sms"] == 1
    assert "误操作取消" in await (await bob.get("/console/h/city2/blacklist")).text()
    assert (await bob.post("/console/h/city2/appeal", form)).code == 303
    assert await booking.appeals(None) == []
