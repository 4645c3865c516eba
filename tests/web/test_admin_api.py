"""Payment callback over real HTTP on 127.0.0.1 (the payment simulator is a real client) and the
admin API through StubTreq, booking on the real Redis."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from demo_booking import demo_service, valid_id
from twisted.logger import formatEvent, globalLogPublisher
from twisted.web.server import Site
from web_stub import stub_treq

from booking import keys
from booking.api import BookingRequest
from booking.store import RedisBookingService
from settings.schema import load_settings
from web.admin import install_booking
from web.payments import sign, simulate_payment
from web.root import build_root

ROOT = Path(__file__).resolve().parents[2]
SECRET, TOKEN = "s3cret", "t0ken"
DAY = dt.date(2026, 11, 27)


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


@pytest.fixture
def site(redis, tmp_path: Path):
    """(booking service, the HTTP tree, booking's clock) on a pay-to-confirm hospital."""
    text = (ROOT / "config/hospital.yaml").read_text(encoding="utf-8")
    text = text.replace("payment: pay_at_hospital", "payment: pay_to_confirm")
    path = tmp_path / "hospital.yaml"
    path.write_text(text, encoding="utf-8")
    service, clock = demo_service(redis, path)
    settings = load_settings(None, {"payments": {"secret": SECRET}, "admin": {"token": TOKEN}})
    root = build_root(service, redis.ping)
    install_booking(root, service, settings)
    yield service, root, clock


@pytest_twisted.async_yield_fixture
async def server(site):
    service, root, clock = site
    port = reactor().listenTCP(0, Site(root), interface="127.0.0.1")
    yield service, port.getHost().port, clock
    await port.stopListening()


async def hold(service: RedisBookingService, n: int) -> str:
    req = BookingRequest("nk", DAY, "am", valid_id(n), f"8613900000{n:03d}", "ussd")
    return (await service.book(req)).tcode


async def admin(http: Any, method: str, path: str, body: Any = None, token: str | None = TOKEN):
    headers = {"authorization": f"Bearer {token}"} if token else {}
    url = f"http://hotline.example/api/admin/{path}"
    data = json.dumps(body).encode() if body is not None else None
    response = await http.request(method, url, data=data, headers=headers)
    return response.code, await response.text("utf-8")


@pytest_twisted.ensureDeferred
async def test_signed_payment_confirms_and_replays_idempotently(server) -> None:
    service, port, _ = server
    tcode = await hold(service, 1)
    assert await simulate_payment(port, SECRET, tcode, "txn-1") == (
        200, {"outcome": "booked", "txn_id": "txn-1"}
    )
    assert (await simulate_payment(port, SECRET, tcode, "txn-1"))[1]["outcome"] == "booked"
    assert (await service._load(tcode)).status.value == "confirmed"


@pytest_twisted.ensureDeferred
async def test_bad_signature_and_bad_body_are_refused(server) -> None:
    service, port, _ = server
    tcode = await hold(service, 2)
    status, body = await simulate_payment(port, "wrong", tcode, "txn-2")
    assert (status, body["error"]["code"]) == (401, "bad_signature")
    assert (await service._load(tcode)).status.value == "held"
    raw = b'{"txn_id": 5}'
    response = await treq.post(
        f"http://127.0.0.1:{port}/api/payments/callback", data=raw,
        headers={"x-hotline-signature": sign(SECRET, raw)},
    )  # fmt: skip
    assert response.code == 400


@pytest_twisted.ensureDeferred
async def test_a_payment_of_another_amount_than_the_fee_is_refused_and_changes_nothing(
        server) -> None:
    service, port, _ = server
    tcode = await hold(service, 4)
    events = await service.redis.execute_command("XLEN", "hl:events")
    fee = service.catalog.department("nk").fee
    logged: list[str] = []

    def observe(event: dict) -> None:
        logged.append(formatEvent(event))

    globalLogPublisher.addObserver(observe)
    try:
        for _ in range(2):  # the same request again: the same refusal
            status, body = await simulate_payment(port, SECRET, tcode, "txn-4", amount=fee - 1)
            assert (status, body["error"]["code"]) == (409, "amount_mismatch")
            assert str(fee) in body["error"]["message"]
    finally:
        globalLogPublisher.removeObserver(observe)
    refused = [line for line in logged if "booking.payment_refused" in line]
    assert len(refused) == 2 and f"amount={fee - 1} fee={fee}" in refused[0]
    assert (await service._load(tcode)).status.value == "held"
    assert await service.redis.execute_command("XLEN", "hl:events") == events
    assert not await service.redis.exists(keys.PLATFORM.payment("txn-4"))
    assert await simulate_payment(port, SECRET, tcode, "txn-4", amount=fee) == (
        200, {"outcome": "booked", "txn_id": "txn-4"})  # the right amount still goes through
    assert (await simulate_payment(port, SECRET, tcode, "txn-4", amount=1))[1] == {
        "outcome": "booked", "txn_id": "txn-4"}  # a replay of a settled txn: its first answer
    raw = json.dumps({"txn_id": "txn-5", "tcode": tcode}).encode()
    response = await treq.post(
        f"http://127.0.0.1:{port}/api/payments/callback", data=raw,
        headers={"x-hotline-signature": sign(SECRET, raw)})
    assert response.code == 400  # the amount is required


@pytest_twisted.ensureDeferred
async def test_payment_after_expiry_is_a_refund(server) -> None:
    service, port, clock = server
    tcode = await hold(service, 3)
    clock.advance(601)
    assert (await simulate_payment(port, SECRET, tcode, "txn-3"))[1]["outcome"] == "refund"
    assert (await service._load(tcode)).status.value == "expired"


@pytest_twisted.ensureDeferred
async def test_admin_needs_the_bearer_token(site) -> None:
    http = stub_treq(site[1])
    assert (await admin(http, "GET", "fill?day=2026-11-27", token=None))[0] == 401
    assert (await admin(http, "GET", "fill?day=2026-11-27", token="nope"))[0] == 401
    status, text = await admin(http, "GET", "fill?day=2026-11-27")
    assert status == 200
    rows = json.loads(text)["sessions"]
    nk_am = next(r for r in rows if (r["dept"], r["session"]) == ("nk", "am"))
    assert nk_am["remote_quota"] == 48 and nk_am["onsite_left"] == 12


@pytest_twisted.ensureDeferred
async def test_admin_share_csv_and_session_cancel(site) -> None:
    service, root, _ = site
    http = stub_treq(root)
    codes = [await hold(service, n) for n in (4, 5, 6)]
    for n, code in enumerate(codes):
        await service.confirm_payment(code, f"p{n}")
    status, text = await admin(http, "POST", "share", {"dept": "nk", "share": 0.01})
    assert status == 200
    assert json.loads(text)["quotas"]["2026-11-27:am"] == 3  # clamped to the 3 already booked
    status, csv_text = await admin(http, "GET", "bookings.csv?day=2026-11-27")
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("tcode,hospital,dept,day") and len(lines) == 4
    assert valid_id(4) not in csv_text and valid_id(4)[-4:] in csv_text
    status, text = await admin(
        http, "POST", "session", {"dept": "nk", "day": "2026-11-27", "session": "am", "places": 2}
    )
    assert json.loads(text)["cancelled"] == [codes[-1]]  # latest first
    assert (await service._load(codes[-1])).status.value == "cancelled"
    status, text = await admin(http, "POST", "reconcile", {})
    assert (status, json.loads(text)) == (200, {"drift": []})
    assert (await admin(http, "POST", "share", {"dept": "nk"}))[0] == 400


@pytest_twisted.ensureDeferred
async def test_admin_sets_a_session_reserve_never_below_the_taken_places(site) -> None:
    service, root, _ = site
    http = stub_treq(root)
    cell = {"dept": "nk", "day": "2026-11-27", "session": "am"}
    before = await service.left("nk", DAY, "am")
    status, text = await admin(http, "POST", "reserve", {**cell, "reserve": 20})
    assert status == 200, text
    assert json.loads(text) == {"places": 60, "reserve": 20, "remote_quota": 40}
    assert (await service.left("nk", DAY, "am"))["r"] == 40 < before["r"]
    status, text = await admin(http, "POST", "reserve", {**cell, "reserve": 61})
    assert status == 400 and "0..60" in json.loads(text)["error"]["message"]
    for n in range(1, 41):
        await hold(service, n)
    status, text = await admin(http, "POST", "reserve", {**cell, "reserve": 21})
    assert status == 400 and "no booking is cancelled" in json.loads(text)["error"]["message"]
    assert (await admin(http, "POST", "reserve", {**cell, "reserve": "5"}))[0] == 400
    assert (await admin(http, "POST", "reserve", {**cell, "reserve": 5}, token=None))[0] == 401
    assert (await service.left("nk", DAY, "am"))["v"] == 20  # the refused changes left it


@pytest_twisted.ensureDeferred
async def test_cli_payment_simulator_pays_a_hold(server, tmp_path: Path) -> None:
    from twisted.internet.utils import getProcessOutputAndValue

    service, port, _ = server
    tcode = await hold(service, 7)
    config = tmp_path / "hotline.yaml"
    config.write_text(
        f"hospital: {ROOT / 'config/hospital.yaml'}\npayments: {{secret: {SECRET}}}\n"
        f"menus: [{ROOT / 'config/menus/booking.yaml'}]\n"
    )
    out, err, code = await getProcessOutputAndValue(
        sys.executable,
        ["-m", "commands.main", "--config", str(config), "booking", "pay", tcode,
         "--port", str(port)],
        path=str(ROOT), env=None,
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out.decode())["outcome"] == "booked"
    assert (await service._load(tcode)).status.value == "confirmed"
