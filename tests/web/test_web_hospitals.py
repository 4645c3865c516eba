"""A city line of several hospitals (booking on the real Redis over a platform folder): the web
pages ask for the hospital first, book at the one chosen, and list the phone's recent hospital
first; the terminal API books at the hospital named and refuses a booking naming none."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest_twisted
from demo_booking import clock_at_now, valid_id
from test_terminal_api import SECRET, call
from web_http import ROOT, Server, Visitor

from booking.catalog import load_platform
from booking.store import RedisBookingService

PHONE, MSISDN = "13800138000", "8613800138000"


def two_hospitals(folder: Path) -> Path:
    folder.mkdir()
    shipped = (ROOT / "config/hospital.yaml").read_text(encoding="utf-8")
    names = (("a", "1", "甲医院", "Hospital A"), ("b", "2", "乙医院", "Hospital B"))
    for hid, code, zh, en in names:
        text = shipped.replace("hospital:\n", f"hospital:\n  id: {hid}\n  code: {code}\n", 1)
        text = re.sub(r"(?m)^    zh: .*医院.*$", f"    zh: {zh}", text, count=1)
        text = re.sub(r"(?m)^    en: .*Hospital.*$", f"    en: {en}", text, count=1)
        (folder / f"{hid}.yaml").write_text(text, encoding="utf-8")
    return folder


@pytest_twisted.async_yield_fixture
async def server(redis: Any, tmp_path: Path):
    clock = clock_at_now()
    service = RedisBookingService(redis, load_platform(two_hospitals(tmp_path / "h")), clock)
    running = Server(redis, {"terminal": {"secrets": {"pos-17": SECRET}}}, service, clock)
    yield running
    await running.stop()


async def signed_in(server: Server) -> Visitor:
    visitor = Visitor(server.base)
    await visitor.ask_code(PHONE)
    status, _, _ = await visitor.give_code(PHONE, server.outbox.last_code(MSISDN))
    assert status == 303
    return visitor


@pytest_twisted.ensureDeferred
async def test_the_web_asks_for_the_hospital_and_books_there(server) -> None:
    visitor = await signed_in(server)
    status, page, _ = await visitor.get("/book/")
    assert status == 200 and 'id="hospitals"' in page
    assert re.findall(r'href="/book/h/(\w+)/"', page) == ["a", "b"]
    assert (await visitor.get("/book/h/zz/"))[0] == 404
    status, page, _ = await visitor.get("/book/h/b/")
    assert status == 200 and "乙医院" in page and 'href="/book/h/b/d/nk"' in page
    status, page, _ = await visitor.get("/book/h/b/confirm?dept=nk&day=2026-11-26&session=am")
    assert status == 200 and 'action="/book/h/b/confirm"' in page
    request_id = re.search(r'name="request_id" value="([^"]+)"', page).group(1)
    status, page, _ = await visitor.post("/book/h/b/confirm", {
        "dept": "nk", "day": "2026-11-26", "session": "am", "id_number": valid_id(1),
        "request_id": request_id})
    assert status == 200 and "乙医院" in page, page
    [booking] = await server.service.bookings_for(MSISDN)
    assert (booking.hospital_id, booking.channel) == ("b", "web")
    status, page, _ = await visitor.get("/book/")  # the phone's hospital first now
    assert re.findall(r'href="/book/h/(\w+)/"', page) == ["b", "a"]


@pytest_twisted.ensureDeferred
async def test_the_terminal_books_at_the_hospital_it_names(server) -> None:
    status, body = await call(server, "GET", "hospitals")
    assert [(h["id"], h["code"]) for h in body["hospitals"]] == [("a", "1"), ("b", "2")]
    status, body = await call(server, "GET", "departments?hospital=b")
    assert status == 200 and body["departments"]
    order = {"dept": "nk", "day": "2026-11-26", "session": "am", "id_number": valid_id(2),
             "phone": PHONE, "request_id": "r-1"}
    status, body = await call(server, "POST", "bookings", order)
    assert (status, body["error"]["code"]) == (404, "unknown_hospital")
    status, body = await call(server, "POST", "bookings", {**order, "hospital": "b"})
    assert status == 200, body
    assert body["booking"]["hospital"] == "b" and body["booking"]["hospital_name"]["en"] == \
        "Hospital B"
    assert json.dumps(body).count(MSISDN) == 0
