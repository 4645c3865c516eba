"""The partner terminal API over real HTTP, time from a task.Clock: a good signature books
(channel ``terminal``, idempotent per request_id); a bad signature, an unknown terminal, a
tampered body, a stale timestamp and a replayed nonce are refused with nothing done; my bookings
and cancel need the phone's one-time code."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
import pytest_twisted
import treq
from demo_booking import valid_id
from web_http import Server

from web.terminal import sign

SECRET = "pos-17-secret-0123456789abcdef"
PHONE, MSISDN = "13800138000", "8613800138000"


@pytest_twisted.async_yield_fixture
async def server(redis: Any):
    running = Server(redis, {"terminal": {"secrets": {"pos-17": SECRET}}})
    yield running
    await running.stop()


async def call(server: Server, method: str, path: str, body: Any = None, *,
               terminal: str = "pos-17", secret: str = SECRET, timestamp: int | None = None,
               nonce: str | None = None, tamper: bytes | None = None
               ) -> tuple[int, dict[str, Any]]:
    data = b"" if body is None else json.dumps(body).encode()
    stamp = str(int(server.clock.seconds()) if timestamp is None else timestamp).encode()
    nonce_b = (nonce or secrets.token_hex(12)).encode()
    full = "/api/terminal/v1/" + path
    signature = sign(secret.encode(), method.encode(), full.encode(), stamp, nonce_b, data)
    headers = {"x-terminal-id": terminal, "x-timestamp": stamp, "x-nonce": nonce_b,
               "x-signature": signature, "content-type": "application/json"}
    response = await treq.request(method, server.base + full, data=tamper or data or None,
                                  headers=headers)
    return response.code, json.loads(await response.text("utf-8"))


def booking_body(n: int, **extra: str) -> dict[str, str]:
    return {"dept": "nk", "day": "2026-11-26", "session": "am", "id_number": valid_id(n),
            "phone": PHONE, "request_id": f"req-{n}", **extra}


@pytest_twisted.ensureDeferred
async def test_a_signed_terminal_walks_the_steps_and_books(server) -> None:
    status, body = await call(server, "GET", "hospitals")
    assert status == 200 and body["hospitals"][0]["id"] == "main"
    status, body = await call(server, "GET", "departments")
    assert status == 200 and {"id": "nk", "name": {"zh": "内科", "en": "Internal medicine"}} \
        in body["departments"]
    status, body = await call(server, "GET", "days?dept=nk")
    assert status == 200 and body["days"][0] == "2026-11-26"  # from tomorrow
    status, body = await call(server, "GET", "sessions?dept=nk&day=2026-11-26")
    assert status == 200 and [s["session"] for s in body["sessions"]] == ["am", "pm"]
    left = body["sessions"][0]["places_left"]
    status, body = await call(server, "POST", "bookings", booking_body(1))
    assert status == 200, body
    booked = body["booking"]
    assert booked["channel"] == "terminal" and booked["terminal_id"] == "pos-17"
    assert booked["phone"].endswith("8000") and "13800138000" not in json.dumps(body)
    stored = await server.service.bookings_for(MSISDN)
    assert [(b.tcode, b.channel, b.extra.get("source")) for b in stored] == [
        (booked["tcode"], "terminal", "pos-17")]  # the record keeps the terminal id
    # the same request_id again (a retry after a lost answer): the same booking, no new place
    status, again = await call(server, "POST", "bookings", booking_body(1))
    assert status == 200 and again["booking"]["tcode"] == booked["tcode"]
    status, body = await call(server, "GET", "sessions?dept=nk&day=2026-11-26")
    assert body["sessions"][0]["places_left"] == left - 1
    # booking's own refusals come through with their code
    status, body = await call(server, "POST", "bookings", booking_body(1, request_id="other"))
    assert status == 409 and body["error"]["code"] == "duplicate"
    status, body = await call(server, "POST", "bookings", booking_body(2, id_number="1" * 18))
    assert status == 409 and body["error"]["code"] == "invalid_id"
    status, body = await call(server, "POST", "bookings", booking_body(
        2, id_number=valid_id(2) + "9"))  # one character too many is no valid ID cut short
    assert status == 400 and body["error"]["code"] == "bad_request"


@pytest_twisted.ensureDeferred
async def test_bad_signatures_are_refused_and_nothing_is_booked(server) -> None:
    body = booking_body(3)
    status, answer = await call(server, "POST", "bookings", body, secret="x" * 30)
    assert (status, answer["error"]["code"]) == (401, "bad_signature")
    status, answer = await call(server, "POST", "bookings", body, terminal="pos-99")
    assert (status, answer["error"]["code"]) == (401, "bad_signature")
    tampered = json.dumps({**body, "session": "pm"}).encode()
    status, answer = await call(server, "POST", "bookings", body, tamper=tampered)
    assert (status, answer["error"]["code"]) == (401, "bad_signature")
    assert await server.service.bookings_for(MSISDN) == []


@pytest_twisted.ensureDeferred
async def test_a_stale_timestamp_is_refused(server) -> None:
    now = int(server.clock.seconds())
    for stamp in (now - 301, now + 301):
        status, answer = await call(server, "GET", "departments", timestamp=stamp)
        assert (status, answer["error"]["code"]) == (401, "stale_timestamp")
    assert (await call(server, "GET", "departments", timestamp=now - 299))[0] == 200
    server.clock.advance(3600)  # our clock moves on: the old timestamp is stale now
    status, answer = await call(server, "GET", "departments", timestamp=now)
    assert (status, answer["error"]["code"]) == (401, "stale_timestamp")


@pytest_twisted.ensureDeferred
async def test_a_replayed_nonce_is_refused(server) -> None:
    nonce = "n" * 24
    status, answer = await call(server, "POST", "bookings", booking_body(4), nonce=nonce)
    assert status == 200, answer
    server.clock.advance(10)
    status, answer = await call(server, "POST", "bookings", booking_body(5), nonce=nonce)
    assert (status, answer["error"]["code"]) == (401, "replay")
    assert len(await server.service.bookings_for(MSISDN)) == 1


@pytest_twisted.ensureDeferred
async def test_my_bookings_and_cancel_need_the_phone_code(server) -> None:
    status, booked = await call(server, "POST", "bookings", booking_body(6))
    tcode = booked["booking"]["tcode"]
    status, answer = await call(server, "POST", "bookings/mine", {"phone_token": "guess"})
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert (await call(server, "POST", "otp", {"phone": PHONE}))[0] == 200
    code = server.outbox.last_code(MSISDN)
    status, answer = await call(server, "POST", "otp/verify", {"phone": PHONE, "code": "000000"
                                                               if code != "000000" else "1"})
    assert (status, answer["error"]["code"], answer["error"]["tries_left"]) == (
        400, "code_wrong", 2)
    status, answer = await call(server, "POST", "otp/verify", {"phone": PHONE, "code": code})
    assert status == 200
    token = answer["phone_token"]
    status, answer = await call(server, "POST", "bookings/mine", {"phone_token": token})
    assert [(b["tcode"], b["terminal_id"]) for b in answer["bookings"]] == [(tcode, "pos-17")]
    status, answer = await call(server, "POST", "bookings/cancel",
                                {"phone_token": token, "tcode": tcode})
    assert status == 200 and answer["booking"]["status"] == "cancelled"
    status, answer = await call(server, "POST", "bookings/mine", {"phone_token": token})
    assert answer["bookings"] == []


@pytest_twisted.ensureDeferred
async def test_without_registered_terminals_there_is_no_api(redis: Any) -> None:
    server = Server(redis)
    try:
        response = await treq.get(server.base + "/api/terminal/v1/departments")
        assert response.code == 404
        await response.content()
    finally:
        await server.stop()



def test_terminal_ids_must_be_plain_ids() -> None:
    """The id is stored on each booking it makes: a key that booking would refuse is caught
    when the settings are read, not at a patient's first booking."""
    from web.terminal import TerminalAccess

    good = TerminalAccess.from_settings({"secrets": {"pos-17": SECRET}})
    assert list(good.secrets) == ["pos-17"]
    for bad in ("pos 17", "终端1", "x" * 65):
        with pytest.raises(ValueError, match="1-64 characters"):
            TerminalAccess.from_settings({"secrets": {bad: SECRET}})
