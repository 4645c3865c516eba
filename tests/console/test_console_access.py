"""Who may see and do what in the console, over real HTTP: the hospital of every page and
action, roles, sessions, CSRF, cookies, the login limits, and the accounts CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
import pytest_twisted
import treq
from console_support import CSRF, DAY1, PASSWORD, ROOT, Client, Server, book, client
from twisted.internet.defer import ensureDeferred, gatherResults

from web.console.accounts import Accounts
from web.console.pages import GET_PAGES, POST_ACTIONS

CELL = {"dept": "nk", "day": DAY1.isoformat(), "session": "am"}
# a form per action that the action would accept from its own hospital's admin
FORMS: dict[str, dict[str, str]] = {
    "cell": {**CELL, "places": "61", "reserve": "1"},
    "copy": {"from": DAY1.isoformat()},
    "share": {"dept": "nk", "share": "50"},
    "suspend": {**CELL, "reason": "x", "confirm": "yes"},
    "cancel": {"tcode": "0000000000", "reason": "x"},
    "lift": {"digest": "00", "reason": "x"},
    "appeal": {"digest": "00", "decision": "lift", "reason": "x"},
    "users/add": {"name": "newbie", "role": "viewer", "password": PASSWORD},
    "users/change": {"name": "vera", "role": "viewer"},
    "users/remove": {"name": "vera"},
    "simulator": {"action": "start", "channel": "ussd"},
}
QUERIES = {"cell": CELL, "suspend": CELL, "bookings": {"q": "5678"}}


@pytest_twisted.ensureDeferred
async def test_every_page_and_action_refuses_another_hospitals_user(server: Server) -> None:
    olga = await client(server, "olga")  # admin of hospital "other"
    for page in GET_PAGES:
        answer = await olga.get(f"/console/h/main/{page}", QUERIES.get(page))
        assert answer.code == 403, page
        assert "其他医院" in await answer.text()
    for action in POST_ACTIONS:
        answer = await olga.post(f"/console/h/main/{action}", FORMS[action])
        assert answer.code == 403, action
    pat = await client(server, "pat")  # the platform's staff see every hospital
    for page in GET_PAGES:
        answer = await pat.get(f"/console/h/main/{page}", QUERIES.get(page))
        assert answer.code == 200, page
    assert await server.accounts.get("vera") is not None  # nothing olga sent was done
    assert await server.accounts.get("newbie") is None


@pytest_twisted.ensureDeferred
async def test_roles_viewer_reads_clerk_acts_on_bookings_admin_edits(server: Server) -> None:
    for name, role in (("vera", "viewer"), ("carl", "clerk"), ("anna", "admin")):
        user = await client(server, name)
        rank = ("viewer", "clerk", "admin").index(role)
        for page, (_, needs) in GET_PAGES.items():
            answer = await user.get(f"/console/h/main/{page}", QUERIES.get(page))
            allowed = rank >= ("viewer", "clerk", "admin").index(needs)
            assert (answer.code == 200) == allowed, (name, page, answer.code)
        for action, (_, needs) in POST_ACTIONS.items():
            if action in ("users/remove", "suspend"):
                continue  # changes the fixture for the next user; covered elsewhere
            answer = await user.post(f"/console/h/main/{action}", FORMS[action])
            allowed = rank >= ("viewer", "clerk", "admin").index(needs)
            assert (answer.code != 403) == allowed, (name, action, answer.code)


@pytest_twisted.ensureDeferred
async def test_without_a_session_pages_lead_to_the_login_and_posts_are_refused(
    server: Server,
) -> None:
    anon = Client(server)
    answer = await anon.get("/console/h/main/schedule")
    assert answer.code == 303
    assert answer.headers.getRawHeaders(b"location")[0].startswith(b"/console/login?next=")
    answer = await anon.post("/console/h/main/share", FORMS["share"], csrf=False)
    assert answer.code == 403


@pytest_twisted.ensureDeferred
async def test_a_post_needs_its_own_sessions_csrf_token(server: Server) -> None:
    anna = await client(server, "anna")
    carl = await client(server, "carl")
    assert (await anna.post("/console/h/main/share", FORMS["share"], csrf=False)).code == 403
    anna.csrf, mine = carl.csrf, anna.csrf  # another session's token is no better
    assert (await anna.post("/console/h/main/share", FORMS["share"])).code == 403
    anna.csrf = mine
    assert (await anna.post("/console/h/main/share", FORMS["share"])).code == 303
    login = await treq.post(f"{server.url}/console/login", allow_redirects=False,
                            data={"username": "anna", "password": PASSWORD})
    assert login.code == 403  # the login form has its token too


@pytest_twisted.ensureDeferred
async def test_session_cookie_is_httponly_strict_and_ends_with_the_shift(server: Server) -> None:
    c = Client(server)
    answer = await c.login("anna", headers={"X-Forwarded-Proto": "https"})
    cookie = next(v for v in answer.headers.getRawHeaders(b"set-cookie")
                  if v.startswith(b"hl_console="))
    assert b"HttpOnly" in cookie and b"SameSite=strict" in cookie and b"Path=/console" in cookie
    assert b"Secure" not in cookie  # a header from a peer that is no trusted proxy
    assert (await c.get("/console/h/main/schedule")).code == 200
    server.clock.advance(8 * 3600)
    assert (await c.get("/console/h/main/schedule")).code == 303


@pytest.mark.parametrize("server", [{"trusted_proxies": ["127.0.0.1"]}], indirect=True)
@pytest_twisted.ensureDeferred
async def test_behind_a_trusted_tls_proxy_the_cookie_is_secure_and_the_client_is_its(
    server: Server,
) -> None:
    c = Client(server)
    answer = await c.login("anna", headers={"X-Forwarded-Proto": "https"})
    cookie = next(v for v in answer.headers.getRawHeaders(b"set-cookie")
                  if v.startswith(b"hl_console="))
    assert b"; Secure" in cookie
    for n in range(20):  # the proxy names the client: one address's failures
        answer = await Client(server).login(f"guess{n}", "wrong password",
                                            headers={"X-Forwarded-For": "203.0.113.7"})
        assert answer.code == 401
    blocked = await Client(server).login("carl", headers={"X-Forwarded-For": "203.0.113.7"})
    assert blocked.code == 429
    other = await Client(server).login("carl", headers={"X-Forwarded-For": "203.0.113.8"})
    assert other.code == 303  # another client behind the same proxy is not held up


@pytest_twisted.ensureDeferred
async def test_failed_logins_per_address_stop_guessing_across_names(server: Server) -> None:
    c = Client(server)
    for n in range(20):  # a different name each time, and a made-up forwarded address
        answer = await c.login(f"guess{n}", "wrong password",
                               headers={"X-Forwarded-For": f"10.0.0.{n}"})
        assert answer.code == 401
    answer = await c.login("carl", headers={"X-Forwarded-For": "10.9.9.9"})
    assert answer.code == 429


@pytest_twisted.ensureDeferred
async def test_removing_a_user_ends_their_session_and_is_audited(server: Server) -> None:
    vera = await client(server, "vera")
    anna = await client(server, "anna")
    assert (await anna.post("/console/h/main/users/remove", {"name": "vera"})).code == 303
    assert (await vera.get("/console/h/main/schedule")).code == 303  # to the login
    assert (await anna.post("/console/h/main/users/add", FORMS["users/add"])).code == 303
    assert await server.accounts.check_password("newbie", PASSWORD) is not None
    again = {"name": "vera", "role": "viewer", "password": PASSWORD}
    assert (await anna.post("/console/h/main/users/add", again)).code == 303
    assert (await vera.get("/console/h/main/schedule")).code == 303  # the old session stays over
    audit = await (await anna.get("/console/h/main/audit")).text()
    assert "user_remove" in audit and "user_add" in audit and "newbie" in audit


@pytest_twisted.ensureDeferred
async def test_a_cut_below_the_booked_places_is_refused_without_the_explicit_step(
    server: Server,
) -> None:
    anna = await client(server, "anna")
    answer = await anna.post("/console/h/main/cell", {**CELL, "places": "-1"})
    assert answer.code == 400
    answer = await anna.post("/console/h/main/cell", {**CELL, "places": "10001"})
    assert answer.code == 400
    for share in ("101", "-1", "half", "nan"):
        answer = await anna.post("/console/h/main/share", {"dept": "nk", "share": share})
        assert answer.code == 400, share
    answer = await anna.post("/console/h/main/suspend", {**CELL, "confirm": "yes"})
    assert answer.code == 400  # no reason
    page = await (await anna.get("/console/h/main/cell", CELL)).text()
    assert 'id="places">60<' in page


def test_users_add_reads_the_password_from_stdin(redis_url: str) -> None:
    def cli(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "commands.main", "--config", str(ROOT / "config/hotline.yaml"),
             "users", "--redis-url", redis_url, *args],
            input=password + "\n", capture_output=True, text=True, timeout=60)

    done = cli("add", "Mei", "--hospital", "ns-renmin", "--role", "clerk")  # a demo hospital
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert cli("add", "mei", "--hospital", "ns-renmin", "--role", "clerk").returncode == 1  # exists
    assert cli("add", "x1", "--hospital", "nowhere", "--role", "admin").returncode == 2
    assert cli("add", "x2", "--platform", "--role", "admin", password="short").returncode == 2
    assert cli("add", "ops", "--platform", "--role", "admin").returncode == 0
    listed = cli("list").stdout
    assert "mei\tns-renmin\tclerk" in listed and "ops\t*\tadmin" in listed


@pytest.mark.parametrize("password", ["", "wrong"])
@pytest_twisted.ensureDeferred
async def test_check_password_refuses_and_unknown_names_cost_the_same(redis, password) -> None:
    accounts = Accounts(redis)
    await accounts.add("zed", "main", "viewer", PASSWORD)
    assert await accounts.check_password("zed", password) is None
    assert await accounts.check_password("nobody", PASSWORD) is None
    assert (await accounts.check_password(" ZED ", PASSWORD)).role == "viewer"
    stored = await redis.hget("hl:console:user:zed", "hash")
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest_twisted.ensureDeferred
async def test_attempts_sent_at_once_do_not_slip_past_the_limit(server: Server) -> None:
    clients = [Client(server) for _ in range(10)]
    answers = await gatherResults([ensureDeferred(c.login("anna", f"guess {n}"))
                                   for n, c in enumerate(clients)])
    codes = sorted(a.code for a in answers)
    assert codes == [401] * 5 + [429] * 5


@pytest_twisted.ensureDeferred
async def test_the_grid_pages_through_the_booking_window_and_no_further(server: Server) -> None:
    vera = await client(server, "vera")
    first = await (await vera.get("/console/h/main/schedule")).text()
    assert "12-07 周一" in first and "12-13 周日" in first and "12-14 周一" not in first
    assert "from=2026-12-14" in first
    later = await (await vera.get("/console/h/main/schedule", {"from": "2026-12-14"})).text()
    assert "12-14 周一" in later and "12-13" not in later and "预约窗口到 2026-12-14" in later
    last = await (await vera.get("/console/h/main/schedule", {"from": "2027-03-01"})).text()
    assert "01-04 周一" in last and 'id="later"' not in last  # 28 days ahead at most
    past = await (await vera.get("/console/h/main/schedule", {"from": "2026-01-01"})).text()
    assert "12-07 周一" in past  # not before today
    assert (await vera.get("/console/h/main/schedule", {"from": "soon"})).code == 400


async def places(server: Server, day: str, dept: str = "nk", session: str = "am") -> int:
    rows = await server.running.booking.fill(dt.date.fromisoformat(day))
    return next(r["places"] for r in rows if r["dept"] == dept and r["session"] == session)


@pytest_twisted.ensureDeferred
async def test_a_week_of_one_session_and_a_copy_forward_leave_booked_days_alone(
    server: Server,
) -> None:
    for n in range(3):  # 12-08 morning: 3 taken
        await book(server, f"wk-{n}", f"1390000010{n}", 50 + n)
    anna = await client(server, "anna")
    answer = await anna.post("/console/h/main/cell", {**CELL, "day": "2026-12-07",
                                                      "places": "2", "week": "yes"})
    assert answer.code == 303
    assert b"msg=week%3A6%3A1" in answer.headers.getRawHeaders(b"location")[0]
    assert await places(server, "2026-12-07") == 2
    assert await places(server, "2026-12-08") == 60  # 3 taken: left alone
    assert await places(server, "2026-12-13") == 2
    assert await places(server, "2026-12-14") == 60  # the 7 days from the 7th only
    answer = await anna.post("/console/h/main/copy", {"from": "2026-12-07"})
    assert answer.code == 303
    assert await places(server, "2026-12-14") == 2  # the 7th's places, a week on
    assert await places(server, "2026-12-15") == 60  # the 8th's: unchanged
    assert await places(server, "2026-12-20") == 2
    assert await places(server, "2026-12-14", session="pm") == 50
    audit = await (await anna.get("/console/h/main/audit")).text()
    assert "copy of 2026-12-07" in audit


@pytest.mark.parametrize("target,lands", [
    ("/console/h/main/bookings?q=5678", "/console/h/main/bookings?q=5678"),
    ("//evil.example/console/", "/console/"),
    ("https://evil.example/", "/console/"),
    ("/console/\r\nSet-Cookie: x=1", "/console/"),
])
@pytest_twisted.ensureDeferred
async def test_after_login_only_a_console_page_is_the_next_stop(server, target, lands) -> None:
    c = Client(server)
    form = await c.http.get(f"{server.url}/console/login")
    token = CSRF.search(await form.text()).group(1)
    answer = await c.http.post(f"{server.url}/console/login", allow_redirects=False, data={
        "csrf": token, "username": "vera", "password": PASSWORD, "next": target})
    assert answer.code == 303
    assert answer.headers.getRawHeaders(b"location") == [lands.encode()]


@pytest_twisted.ensureDeferred
async def test_a_new_password_ends_the_users_sessions_and_a_role_change_counts_at_once(
    server: Server,
) -> None:
    carl, anna = await client(server, "carl"), await client(server, "anna")
    answer = await anna.post("/console/h/main/users/change", {"name": "carl", "role": "viewer"})
    assert answer.code == 303
    assert (await carl.post("/console/h/main/cancel", FORMS["cancel"])).code == 403  # a viewer
    assert (await carl.get("/console/h/main/schedule")).code == 200  # still logged in
    answer = await anna.post("/console/h/main/users/change",
                             {"name": "carl", "role": "clerk", "password": "a new password 2"})
    assert answer.code == 303
    assert (await carl.get("/console/h/main/schedule")).code == 303  # to the login
    assert (await Client(server).login("carl", "a new password 2")).code == 303
    assert (await anna.post("/console/h/main/users/change", {"name": "pat", "role": "viewer"})
            ).code == 404  # a platform account is no hospital's to change
    audit = await (await anna.get("/console/h/main/audit")).text()
    assert "user_change" in audit and "clerk +password" in audit


async def morning_screen(server: Server, session: str, phone: str) -> str:
    """The USSD sessions screen of 内科 on the first day (1 book, 1 内科, 1 the first day)."""
    reply = ""
    for text in ("", "1", "1*1", "1*1*1"):
        reply = await server.ussd(session, phone, text)
    return reply


@pytest_twisted.ensureDeferred
async def test_an_admin_sets_a_sessions_reserve_and_ussd_callers_see_the_remote_places_go(
    server: Server,
) -> None:
    booking = server.running.booking

    async def remote_left() -> int:
        return next(s.remote_left for s in await booking.sessions("nk", DAY1)
                    if s.session == "am")

    assert await remote_left() == 48  # 60 places × 0.8, no reserve
    assert "上午" in await morning_screen(server, "rsv-0", "13900000002")
    everything = {**CELL, "places": "60", "reserve": "60"}
    for name in ("carl", "vera", "olga"):  # a clerk, a viewer, another hospital's admin
        answer = await (await client(server, name)).post("/console/h/main/cell", everything)
        assert answer.code == 403, name
    assert await remote_left() == 48  # nothing they sent was done
    anna = await client(server, "anna")
    too_many = await anna.post("/console/h/main/cell", {**CELL, "places": "60", "reserve": "61"})
    assert too_many.code == 400
    assert (await anna.post("/console/h/main/cell", everything)).code == 303
    assert await remote_left() == 0
    screen = await morning_screen(server, "rsv-1", "13900000003")
    assert "上午" not in screen and "1.下午" in screen, screen  # the afternoon keeps its places
    page = await (await anna.get("/console/h/main/cell", CELL)).text()
    assert 'id="reserve">60<' in page and 'id="places">60<' in page
    assert (await anna.post("/console/h/main/cell", {**CELL, "places": "60", "reserve": "20"})
            ).code == 303
    assert await remote_left() == 40
    for n in range(2):
        await book(server, f"rsv-b{n}", f"1390000020{n}", 70 + n)
    cut = await anna.post("/console/h/main/cell", {**CELL, "places": "60", "reserve": "59"})
    assert cut.code == 409  # 2 remote places taken: 2 + 59 > 60, and no booking is cancelled
    assert "不会为改预留取消预约" in await cut.text()
    assert await remote_left() == 38
    kept = await booking.bookings_for("8613900000200")
    assert [b.status.value for b in kept] == ["confirmed"], kept
    audit = await (await anna.get("/console/h/main/audit")).text()
    assert audit.count("reserve") >= 2 and "nk 2026-12-08 am" in audit
