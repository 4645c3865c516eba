"""The phone check of the web pages over real HTTP, time from a task.Clock: a code is good for
5 minutes and once, wrong tries burn it, codes are limited per phone and per client address
(X-Forwarded-For believed only from a trusted proxy), forms need their CSRF token, and the
session cookie is HttpOnly and SameSite=Strict."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from web_http import Server, Visitor

PHONE, MSISDN = "13800138000", "8613800138000"


@pytest_twisted.async_yield_fixture
async def server(redis: Any):
    running = Server(redis)
    yield running
    await running.stop()


@pytest_twisted.ensureDeferred
async def test_the_right_code_signs_in_once_with_a_strict_httponly_cookie(server) -> None:
    visitor = Visitor(server.base)
    status, page, _ = await visitor.ask_code(PHONE)
    assert status == 200 and "8000" in page and 'name="code"' in page
    message = server.outbox.sent[-1]
    assert (message.to, message.kind) == (MSISDN, "otp")
    assert message.valid_until == server.clock.seconds() + 300
    code = server.outbox.last_code(MSISDN)
    status, _, headers = await visitor.give_code(PHONE, code)
    assert status == 303 and headers.getRawHeaders(b"location") == [b"/book/mine"]
    session = [c for c in visitor.set_cookie if c.startswith("hl_sess=")]
    assert session, visitor.set_cookie
    assert "HttpOnly" in session[0] and "SameSite=strict" in session[0].replace("Strict", "strict")
    status, page, _ = await visitor.get("/book/mine")
    assert status == 200 and 'id="none"' in page  # signed in: no bookings yet
    # the same code again (another browser) is refused: used once
    other = Visitor(server.base)
    await other.get("/book/login")
    status, page, _ = await other.give_code(PHONE, code)
    assert status == 400 and "book/verify" not in page  # back to the phone step


@pytest_twisted.ensureDeferred
async def test_a_code_expires_after_five_minutes(server) -> None:
    visitor = Visitor(server.base)
    await visitor.ask_code(PHONE)
    code = server.outbox.last_code(MSISDN)
    server.clock.advance(299)
    await visitor.ask_code("13900139000")  # another phone, to show time is read per request
    server.clock.advance(2)  # 301 s after the code was sent
    status, page, _ = await visitor.give_code(PHONE, code)
    assert status == 400 and "验证码已失效" in page
    assert "hl_sess" not in visitor.cookies


@pytest_twisted.ensureDeferred
async def test_three_wrong_codes_burn_the_code(server) -> None:
    visitor = Visitor(server.base)
    await visitor.ask_code(PHONE)
    code = server.outbox.last_code(MSISDN)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    status, page, _ = await visitor.give_code(PHONE, wrong)
    assert status == 400 and "还可尝试2次" in page
    status, page, _ = await visitor.give_code(PHONE, "12345")  # malformed counts as a try too
    assert status == 400 and "还可尝试1次" in page
    status, page, _ = await visitor.give_code(PHONE, wrong)
    assert status == 400 and "验证码已失效" in page
    status, _, _ = await visitor.give_code(PHONE, code)  # the right one, too late
    assert status == 400 and "hl_sess" not in visitor.cookies


@pytest_twisted.ensureDeferred
async def test_codes_per_phone_are_limited_and_the_window_resets(server) -> None:
    visitors = [Visitor(server.base, {"x-forwarded-for": f"198.51.100.{n}"}) for n in range(9)]
    status, _, _ = await visitors[0].ask_code(PHONE)
    assert status == 200
    status, page, headers = await visitors[1].ask_code(PHONE)  # within a minute: wait
    assert status == 429 and headers.getRawHeaders(b"retry-after") == [b"60"]
    for n in range(2, 6):  # four more, a minute apart: five in the hour
        server.clock.advance(61)
        assert (await visitors[n].ask_code(PHONE))[0] == 200
    server.clock.advance(61)
    status, page, headers = await visitors[6].ask_code(PHONE)
    assert status == 429 and "获取验证码过于频繁" in page
    assert 1 <= int(headers.getRawHeaders(b"retry-after")[0]) <= 3600
    assert len([m for m in server.outbox.sent if m.to == MSISDN]) == 5
    server.clock.advance(3600)  # the next window
    assert (await visitors[7].ask_code(PHONE))[0] == 200


@pytest.mark.parametrize("proxied", [False, True])
@pytest_twisted.ensureDeferred
async def test_codes_per_client_address_are_limited(redis: Any, proxied: bool) -> None:
    server = Server(redis, {"web": {"otp_per_client": 4},
                            "http": {"trusted_proxies": ["127.0.0.1"] if proxied else []}})
    try:
        # the client writes another X-Forwarded-For each time: believed only via a trusted proxy
        async def ask(n: int, client: str = "203.0.113.9") -> int:
            visitor = Visitor(server.base, {"x-forwarded-for": f"192.0.2.{n}, {client}"})
            return (await visitor.ask_code(f"1390013{n:04d}"))[0]

        assert [await ask(n) for n in range(5)] == [200] * 4 + [429]
        assert await ask(9, client="203.0.113.10") == (200 if proxied else 429)
    finally:
        await server.stop()


@pytest_twisted.ensureDeferred
async def test_forms_need_their_csrf_token(server) -> None:
    visitor = Visitor(server.base)
    await visitor.get("/book/login")
    status, _, _ = await visitor.post("/book/login", {"phone": PHONE}, csrf=False)
    assert status == 403
    status, _, _ = await visitor.post("/book/login", {"phone": PHONE, "csrf": "x" * 43},
                                      csrf=False)
    assert status == 403
    assert server.outbox.sent == []
    assert (await visitor.post("/book/login", {"phone": PHONE}))[0] == 200


@pytest_twisted.ensureDeferred
async def test_my_bookings_and_booking_need_a_proven_phone(server) -> None:
    visitor = Visitor(server.base)
    status, _, headers = await visitor.get("/book/mine")
    assert status == 303 and headers.getRawHeaders(b"location")[0].startswith(b"/book/login")
    status, _, headers = await visitor.get("/book/confirm?dept=nk&day=2026-11-26&session=am")
    assert status == 303 and b"next=" in headers.getRawHeaders(b"location")[0]
    visitor.cookies["hl_sess"] = "forged-token"
    assert (await visitor.get("/book/mine"))[0] == 303
    status, _, _ = await visitor.post("/book/cancel", {"tcode": "1234567890"})
    assert status == 403
