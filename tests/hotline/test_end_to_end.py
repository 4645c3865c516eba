"""The whole product, wired by hotline.app, over real sockets: USSD over HTTP, a call over
FastAGI, the SMS at an SMSC we did not write (npm smpp), and the kiosk API."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_twisted
import treq
from node_smsc import require_peer, start_node_smsc

from booking.idcard import check_char
from hotline.app import Running, start
from ivr.simulator import place_call
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")


class ShiftedClock:
    """The reactor's time plus an offset: lets the kiosk step into the visit day."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.offset = 0.0

    def seconds(self) -> float:
        return self.reactor.seconds() + self.offset


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


@pytest_twisted.async_yield_fixture
async def system(redis, redis_url, tmp_path, request):
    smsc, smsc_port = await start_node_smsc(reactor(), require_peer())
    overrides: dict[str, Any] = {
        "redis": {"url": redis_url},
        "http": {"port": 0},
        "ivr": {"fastagi": {"port": 0}},
        "sms": {"smpp": {"host": "127.0.0.1", "port": smsc_port}},
        "data_dir": str(tmp_path),
    }
    edit = getattr(request, "param", None)  # (old, new): a menu edited for one test
    if edit:
        shutil.copytree(ROOT / "config/menus", tmp_path / "menus")
        menu = tmp_path / "menus" / "booking.yaml"
        menu.write_text(menu.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
        overrides["menus"] = [str(menu)]
    settings = load_settings(ROOT / "config/hotline.yaml", overrides)
    clock = ShiftedClock(reactor())
    running = await start(settings, reactor(), clock=clock)
    yield running, smsc, clock
    await running.stop()
    await smsc.stop()


async def ussd(running: Running, session: str, phone: str, text: str) -> tuple[int, str]:
    url = f"http://127.0.0.1:{running.http_port}/ussd/at"
    form = {"sessionId": session, "serviceCode": "*12580#", "phoneNumber": phone,
            "networkCode": "46000", "text": text}
    response = await treq.post(url, data=form)
    return response.code, await response.text("utf-8")


async def kiosk(running: Running, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{running.http_port}/api/kiosk/{path}"
    response = await treq.post(url, data=json.dumps(body).encode(),
                               headers={"content-type": "application/json"})
    return response.code, json.loads(await response.text("utf-8"))


async def book_by_ussd(running: Running, session: str, phone: str, id_number: str) -> str:
    """Answer 1 at every menu and the ID number when asked; return the final screen."""
    inputs: list[str] = []
    for _ in range(12):
        status, reply = await ussd(running, session, phone, "*".join(inputs))
        assert status == 200, reply
        if reply.startswith("END "):
            return reply
        inputs.append(id_number.replace("X", "*") if "身份证号码" in reply else "1")
    raise AssertionError(f"no END after {inputs}: {reply}")


@pytest_twisted.ensureDeferred
async def test_ussd_booking_ends_with_tcode_and_the_smsc_gets_it(system) -> None:
    running, smsc, _ = system
    end = await book_by_ussd(running, "e2e-1", "13800138000", valid_id(11))
    tcode = TCODE.search(end)
    assert tcode, end
    message = await smsc.next(reactor(), timeout=5)
    assert message["destination_addr"] == "8613800138000"
    assert message["data_coding"] == 8  # UCS2 for Chinese
    assert tcode.group(0) in message["text"]
    assert len(smsc.lines) == 2  # the "listening" line and exactly one submit_sm


@pytest_twisted.ensureDeferred
async def test_phone_booking_reads_the_tcode_and_the_smsc_gets_it(system) -> None:
    running, smsc, _ = system
    id_number = valid_id(12)
    sim = await place_call(
        reactor(), running.fastagi_port,
        # book, the demo's first hospital, department, day, session, the ID, confirm
        ["1", "1", "1", "1", "1", id_number.replace("X", "*"), "1"], callerid="13912345678",
    )
    codes = [d for d in sim.said_digits if len(d) == 10]
    assert len(codes) == 1, sim.format_transcript()
    message = await smsc.next(reactor(), timeout=5)
    assert message["destination_addr"] == "8613912345678"
    assert codes[0] in message["text"]


@pytest_twisted.ensureDeferred
async def test_kiosk_verifies_checks_in_once_and_leaks_nothing(system) -> None:
    running, _, clock = system
    tcode = TCODE.search(await book_by_ussd(running, "e2e-3", "13700137000", valid_id(13)))
    assert tcode
    code = tcode.group(0)
    status, body = await kiosk(running, "verify", {"tcode": code, "kiosk_id": "k1"})
    assert status == 409 and body["error"]["code"] == "not_today"  # booked for a later day
    # step into the visit day's morning session, whatever the hour the test runs at
    booked = await running.booking.bookings_for("8613700137000")
    visit = dt.datetime.combine(booked[0].day, dt.time(9, 0), ZoneInfo("Asia/Shanghai"))
    clock.offset = visit.timestamp() - reactor().seconds()
    status, body = await kiosk(running, "verify", {"tcode": code, "kiosk_id": "k1"})
    assert status == 200, body
    assert body["booking"]["tcode"] == code
    assert body["booking"]["phone"].endswith("7000") and "137001" not in body["booking"]["phone"]
    assert body["booking"]["id_number"].endswith(valid_id(13)[-4:])
    assert valid_id(13)[:6] not in json.dumps(body)
    status, first = await kiosk(running, "check-in", {"tcode": code, "kiosk_id": "k1"})
    assert status == 200 and first["booking"]["status"] == "checked_in"
    status, again = await kiosk(running, "check-in", {"tcode": code, "kiosk_id": "k1"})
    assert status == 409 and again["error"]["code"] == "already_checked_in"
    # a mistyped code (one digit changed) and a forged one get the very same answer
    mistyped = code[:-1] + str((int(code[-1]) + 1) % 10)
    answers = [await kiosk(running, "verify", {"tcode": c, "kiosk_id": "k1"})
               for c in (mistyped, "1234567890", "abc")]
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 404


@pytest_twisted.ensureDeferred
async def test_bad_requests_get_clear_errors_and_the_server_stays_up(system) -> None:
    running, _, _ = system
    status, text = await ussd(running, "", "13800138000", "")
    assert status == 400 and "sessionId" in text
    status, body = await kiosk(running, "verify", ["not", "an", "object"])
    assert status == 400 and body["error"]["code"] == "bad_request"
    response = await treq.get(f"http://127.0.0.1:{running.http_port}/healthz")
    assert response.code == 200 and json.loads(await response.text())["status"] == "ok"


@pytest_twisted.ensureDeferred
async def test_metrics_count_requests_and_read_live_state(system) -> None:
    running, _, _ = system
    hops = re.compile(r'^hotline_http_requests_total\{code="200",route="/ussd/at"\} (\S+)$', re.M)

    async def scrape() -> str:
        response = await treq.get(f"http://127.0.0.1:{running.http_port}/metrics")
        assert response.code == 200
        return str(await response.text())

    before = hops.search(await scrape())  # the counters are the process's (other tests too)
    await ussd(running, "e2e-metrics", "13800138000", "")
    text = await scrape()
    after = hops.search(text)
    assert after and float(after.group(1)) == (float(before.group(1)) if before else 0.0) + 1
    assert "hotline_redis_up 1.0" in text
    assert "hotline_ivr_calls_active 0.0" in text


@pytest.mark.parametrize("system", [("on_max: $goodbye", "on_max: $sms")], indirect=True)
@pytest_twisted.ensureDeferred
async def test_a_caller_who_gives_up_gets_the_how_to_sms(system) -> None:
    running, smsc, _ = system
    text = ""
    for attempt in range(6):
        status, reply = await ussd(running, "e2e-help", "13600136000", text)
        assert status == 200
        if reply.startswith("END "):
            break
        text = "*".join(["7"] * (attempt + 1))  # no such choice, again and again
    assert reply.startswith("END "), reply
    message = await smsc.next(reactor(), timeout=5)
    assert message["destination_addr"] == "8613600136000"
    assert "QX" in message["text"]  # the how-to text of config/sms.yaml mo_help
