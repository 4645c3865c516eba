"""The console's menu pages and phone simulator over real HTTP against a whole server (real
Redis, time on a task.Clock): the sandbox never touches live bookings, an upload is checked
with file:line and waits until an admin activates it, a live USSD dialogue keeps the version
it began on, and only platform admins may upload."""

from __future__ import annotations

import html
import io
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest_twisted
from console_support import (
    PASSWORD,
    ROOT,
    START,
    TCODE,
    Client,
    Inbox,
    Server,
    client,
    log_in,
    reactor,
    valid_id,
)
from twisted.internet import task
from twisted.internet.task import deferLater

from hotline.app import start
from settings.schema import load_settings
from web.console.accounts import Accounts

SCREEN = re.compile(r'<div class="screen" id="screen"[^>]*><pre>(.*?)</pre>', re.DOTALL)
ASK_DEPT = "请选择科室："
NEW_ASK_DEPT = "请选择要挂号的科室："


@pytest_twisted.async_yield_fixture
async def server(redis, redis_url, tmp_path, browser_thread):
    """The console's server with its menu file in a folder of the test's own (activation
    writes it)."""
    menus = tmp_path / "menus"
    shutil.copytree(ROOT / "config/menus", menus)
    overrides: dict[str, Any] = {
        "redis": {"url": redis_url},
        "http": {"port": 0},
        "ivr": {"fastagi": {"port": 0}},
        "sms": {"smpp": None, "cmpp": None},
        "data_dir": str(tmp_path),
        "booking": {"listing_cache_s": 0.0},
        "catalog": str(ROOT / "config/hospital.yaml"),
        "menus": [str(menus / "booking.yaml")],
    }
    settings = load_settings(ROOT / "config/hotline.yaml", overrides)
    clock = task.Clock()
    clock.advance(START)
    inbox = Inbox()
    running = await start(settings, reactor(), clock=clock, on_sms=inbox)
    accounts = Accounts(redis)
    await accounts.add("anna", "main", "admin", PASSWORD)  # a hospital's admin
    await accounts.add("pat", "*", "admin", PASSWORD)  # the operator's admin
    await accounts.add("pia", "*", "viewer", PASSWORD)  # the operator's viewer
    yield Server(running, clock, inbox, accounts, browser_thread)
    await running.stop()


def menu_file(server: Server) -> Path:
    return Path(server.running.settings.raw["menus"][0])


async def snapshot(redis: Any) -> dict[str, Any]:
    """Every key but the console's own (logins, audit) with its type and value, once the
    server's first no-show sweep has written its bookkeeping (it runs on its own schedule)."""
    for _ in range(100):
        if await redis.exists("hl:{h:main}:ns:last"):
            break
        await deferLater(reactor(), 0.05, lambda: None)
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys("*")):
        if key.startswith("hl:console:"):
            continue
        kind = await redis.type(key)
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "stream":  # the entries (a consumer's reads change the group's clock)
            value = await redis.execute_command("XRANGE", key, "-", "+")
        else:
            value = await redis.execute_command("DUMP", key)
        out[key] = (kind, value)
    return out


async def screen(c: Client) -> str:
    page = await c.get("/console/h/main/simulator")
    body = await page.text()
    found = SCREEN.search(body)
    assert found, body
    return html.unescape(found.group(1))


async def walk_to_tcode(c: Client) -> tuple[str, list[str]]:
    """Book in the simulator as ``book`` does by phone: the T-code and the screens seen."""
    answer = await c.post("/console/h/main/simulator",
                          {"action": "start", "channel": "ussd", "lang": "zh"})
    assert answer.code == 303, await answer.text()
    seen = []
    for _ in range(14):
        text = await screen(c)
        seen.append(text)
        if "会话结束" in (await (await c.get("/console/h/main/simulator")).text()):
            found = TCODE.search(text)
            assert found, seen
            return found.group(0), seen
        keys = valid_id(77).replace("X", "*") if "身份证号码" in text else "1"
        answer = await c.post("/console/h/main/simulator", {"action": "send", "keys": keys})
        assert answer.code == 303, await answer.text()
    raise AssertionError(seen)


@pytest_twisted.ensureDeferred
async def test_a_walk_to_a_tcode_in_the_simulator_leaves_the_live_bookings_unchanged(
    server: Server, redis: Any,
) -> None:
    c = await client(server, "anna")
    before = await snapshot(redis)
    tcode, seen = await walk_to_tcode(c)
    assert ASK_DEPT in "".join(seen)
    assert await snapshot(redis) == before  # no booking, hold, count or event went live
    assert await server.running.booking.bookings_for("8613900000000") == []
    reply = await server.ussd("live-1", "13900000002", "")  # the live line still books
    assert reply.startswith("CON"), reply
    assert server.inbox.messages == []  # the sandbox sends no SMS
    assert tcode not in str(await snapshot(redis))


@pytest_twisted.ensureDeferred
async def test_the_simulator_is_kept_per_login(server: Server) -> None:
    a, b = await client(server, "anna"), await client(server, "anna")
    await a.post("/console/h/main/simulator", {"action": "start", "channel": "ussd"})
    await a.post("/console/h/main/simulator", {"action": "send", "keys": "1"})
    assert ASK_DEPT in await screen(a)
    page = await b.get("/console/h/main/simulator")
    assert 'id="screen"' not in await page.text()  # another login has no walk


@pytest_twisted.ensureDeferred
async def test_without_script_a_keypad_key_grows_the_number_and_send_sends_it(
    server: Server,
) -> None:
    c = await client(server, "anna")
    await c.post("/console/h/main/simulator", {"action": "start", "channel": "ussd"})
    first = await screen(c)
    answer = await c.post("/console/h/main/simulator", {"action": "send", "keys": "",
                                                        "key": "1"})
    assert answer.code == 200
    assert 'name="keys" value="1"' in await answer.text()  # not sent yet: a USSD number
    assert await screen(c) == first
    await c.post("/console/h/main/simulator", {"action": "send", "keys": "1"})
    assert ASK_DEPT in await screen(c)


async def upload(c: Client, data: bytes) -> Any:
    return await c.http.post(
        f"{c.server.url}/console/menus/upload", allow_redirects=False,
        data={"csrf": c.csrf}, files={"menu": ("booking.yaml", io.BytesIO(data))})


@pytest_twisted.ensureDeferred
async def test_an_invalid_upload_shows_file_line_errors_and_activates_nothing(
    server: Server,
) -> None:
    path = menu_file(server)
    original = path.read_bytes()
    lines = original.decode("utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if ASK_DEPT in line)
    at = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("next:")) + 1
    broken = "".join([*lines[:at], "    next: again\n", *lines[at:]]).encode("utf-8")
    running = server.running.dialogue.source.get("booking").version
    c = await client(server, "pat")
    answer = await upload(c, broken)
    body = html.unescape(await answer.text())
    assert answer.code == 400, body
    assert re.search(rf"{re.escape(str(path))}:{at + 1}:\d+: error: .*duplicate key 'next'",
                     body), body  # the line of the upload, named as the file it would replace
    assert "没有" in body.split('id="pending-h"')[1][:200]  # nothing pending
    answer = await c.post("/console/menus/activate", {})
    assert answer.code == 409
    assert path.read_bytes() == original
    assert server.running.dialogue.source.get("booking").version == running


@pytest_twisted.ensureDeferred
async def test_a_valid_upload_waits_until_activated_and_dialogues_keep_their_version(
    server: Server, redis: Any,
) -> None:
    path = menu_file(server)
    original = path.read_bytes()
    changed = original.replace(ASK_DEPT.encode(), NEW_ASK_DEPT.encode())
    assert changed != original
    old = server.running.dialogue.source.get("booking").version
    c = await client(server, "pat")
    answer = await upload(c, changed)
    assert answer.code == 303, await answer.text()
    page = await (await c.get("/console/menus")).text()
    pending = re.search(r'id="pending-version">(\w+)<', page)
    assert pending and pending.group(1) != old
    # pending: neither the file nor a live dialogue changed
    assert path.read_bytes() == original
    assert await server.ussd("before", "13900000011", "") != ""
    assert ASK_DEPT in await server.ussd("before", "13900000011", "1")
    # the pending version can be walked in the simulator
    await c.post("/console/h/main/simulator", {"action": "start", "channel": "ussd",
                                               "which": "pending"})
    await c.post("/console/h/main/simulator", {"action": "send", "keys": "1"})
    assert NEW_ASK_DEPT in await screen(c)

    began = await server.ussd("inflight", "13900000012", "")  # begins on the old version
    assert began.startswith("CON")
    answer = await c.post("/console/menus/activate", {})
    assert answer.code == 303, await answer.text()
    assert path.read_bytes() == changed
    assert server.running.dialogue.source.get("booking").version == pending.group(1)
    after = await server.ussd("after", "13900000013", "")
    assert after.startswith("CON")
    assert NEW_ASK_DEPT in await server.ussd("after", "13900000013", "1")
    kept = await server.ussd("inflight", "13900000012", "1")
    assert ASK_DEPT in kept and NEW_ASK_DEPT not in kept
    audit = await redis.lrange("hl:console:audit:*", 0, -1)
    assert any('"menu_activate"' in e and '"pat"' in e and old in e and pending.group(1) in e
               for e in audit), audit
    page = await (await c.get("/console/menus")).text()
    assert "menu_activate" in page and 'id="pending-version"' not in page


@pytest_twisted.ensureDeferred
async def test_only_platform_admins_upload_or_activate(server: Server) -> None:
    path = menu_file(server)
    original = path.read_bytes()
    changed = original.replace(ASK_DEPT.encode(), NEW_ASK_DEPT.encode())
    anna = await client(server, "anna")  # a hospital's admin
    assert (await upload(anna, changed)).code == 403
    assert (await anna.get("/console/menus")).code == 403
    assert (await anna.post("/console/menus/activate", {})).code == 403
    pia = await client(server, "pia")  # the operator's viewer: reads, may not change
    assert (await pia.get("/console/menus")).code == 200
    assert (await upload(pia, changed)).code == 403
    pat = await client(server, "pat")
    no_csrf = await pat.http.post(f"{server.url}/console/menus/upload", allow_redirects=False,
                                  files={"menu": ("booking.yaml", io.BytesIO(changed))})
    assert no_csrf.code == 403
    page = await (await pat.get("/console/menus")).text()
    assert 'id="pending-version"' not in page
    assert path.read_bytes() == original
    # a hospital's user walks the running menu only
    answer = await anna.post("/console/h/main/simulator",
                             {"action": "start", "channel": "ussd", "which": "pending"})
    assert answer.code == 403


@pytest_twisted.ensureDeferred
async def test_the_menus_page_shows_the_check_and_the_graph(server: Server) -> None:
    pat = await client(server, "pat")
    page = html.unescape(await (await pat.get("/console/menus")).text())
    path = menu_file(server)
    assert f"{path}: menu 'booking' version" in page  # the line of hotline menus check
    assert 'id="n-booking-begin"' in page  # every node, linked by its edges
    assert re.search(r'<kbd>1</kbd> → <a href="#n-booking-\w+">', page)
    assert re.search(r'id="n-booking-welcome">.*?<td class="hint">booking\.yaml:\d+:\d+</td>',
                     page, re.DOTALL)  # each node names its file:line


@pytest_twisted.ensureDeferred
async def test_an_ivr_walk_shows_the_prompts_as_text(server: Server) -> None:
    c = await client(server, "anna")
    await c.post("/console/h/main/simulator", {"action": "start", "channel": "ivr"})
    page = html.unescape(await (await c.get("/console/h/main/simulator")).text())
    assert "say" in page and "waits for" in page, page
    answer = await c.post("/console/h/main/simulator", {"action": "send", "key": "1",
                                                        "keys": ""})
    page = html.unescape(await (await c.get("/console/h/main/simulator")).text())
    assert answer.code in (200, 303)
    assert ASK_DEPT in page or "科室" in page, page


@pytest_twisted.ensureDeferred
async def test_a_walk_left_alone_expires(server: Server) -> None:
    c = await client(server, "anna")
    await c.post("/console/h/main/simulator", {"action": "start", "channel": "ussd"})
    server.clock.advance(1801)  # SIM_TTL_S after the last key
    answer = await c.post("/console/h/main/simulator", {"action": "send", "keys": "1"})
    assert answer.code == 409
    assert "过期" in await answer.text()


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("CONSOLE_SCREENSHOTS")  # docs/img: the pages in docs/console.md
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=False)


@pytest_twisted.ensureDeferred
async def test_a_browser_walks_the_simulator_to_a_tcode_by_pressing_keypad_buttons(
    server: Server, redis: Any,
) -> None:
    before = await snapshot(redis)
    id_keys = valid_id(78).replace("X", "*")

    def steps(page: Any) -> dict[str, Any]:
        log_in(page, "anna")
        page.get_by_role("link", name="电话模拟器").click()
        page.get_by_role("button", name="拨号（重新开始）").click()
        keypad = page.get_by_role("group", name="键盘")
        screens = []
        for _ in range(14):
            text = page.locator("#screen").inner_text()
            screens.append(text)
            if "会话结束" in text:
                break
            if ASK_DEPT in text:
                shot(page, "simulator")
            for key in (id_keys if "身份证号码" in text else "1"):
                keypad.get_by_role("button", name=key, exact=True).click()
            page.get_by_role("button", name="发送").click()
            page.wait_for_load_state()
        page.goto("/console/h/main/simulator")
        page.get_by_label("语音（IVR）").check()
        page.get_by_role("button", name="拨号（重新开始）").click()
        page.get_by_role("group", name="键盘").get_by_role("button", name="1", exact=True).click()
        page.wait_for_load_state()
        shot(page, "simulator-ivr")
        return {"screens": screens, "ivr": page.locator("#transcript").inner_text()}

    seen = await server.page(steps)
    last = seen["screens"][-1]
    assert "会话结束" in last and TCODE.search(last), seen["screens"]
    assert any(ASK_DEPT in s for s in seen["screens"])
    assert "按键: 1" in seen["ivr"] and "科室" in seen["ivr"], seen["ivr"]
    assert await snapshot(redis) == before


@pytest_twisted.ensureDeferred
async def test_the_menus_page_in_a_browser(server: Server) -> None:
    pat = await client(server, "pat")
    changed = menu_file(server).read_bytes().replace(ASK_DEPT.encode(), NEW_ASK_DEPT.encode())
    assert (await upload(pat, changed)).code == 303

    def steps(page: Any) -> str:
        log_in(page, "pat")
        page.goto("/console/menus")
        shot(page, "menus")
        page.locator("#menu-booking").scroll_into_view_if_needed()
        shot(page, "menus-graph")
        return page.locator("#check-1").inner_text()

    check = await server.page(steps)
    assert "menu 'booking' version" in check
