"""The console in a real browser (Debian's chromium through Playwright) against a real server:
what a hospital's staff do, and what they are refused."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest_twisted
from console_support import DAY1, PASSWORD, TCODE, Server, book, log_in, valid_id

SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")  # a folder: the pages are saved there (docs/img)


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=False)


async def sessions_screen(server: Server, session: str) -> str:
    """The USSD screen after 1 (book), 1 (内科), 1 (the first day)."""
    reply = ""
    for text in ("", "1", "1*1", "1*1*1"):
        reply = await server.ussd(session, "13900000001", text)
    return reply


@pytest_twisted.ensureDeferred
async def test_an_admin_sets_a_share_and_ussd_callers_see_the_remote_places_change(
    server: Server,
) -> None:
    before = await sessions_screen(server, "share-1")
    assert "上午" in before and "下午" in before, before
    cell = f"#cell-nk-{DAY1.isoformat()}-am"

    def steps(page: Any) -> tuple[str, str, str]:
        log_in(page, "anna")
        assert page.url.endswith("/console/h/main/schedule")
        was = page.locator(cell).locator("xpath=..").inner_text()
        shot(page, "schedule")
        page.get_by_label("远程比例 %").first.fill("0")
        page.get_by_label("远程比例 %").first.press("Enter")  # keyboard alone
        page.wait_for_url("**/schedule?msg=share")
        now = page.locator(cell).locator("xpath=..").inner_text()
        page.goto("/console/h/main/users")
        shot(page, "users")
        page.goto("/console/h/main/audit")
        shot(page, "audit")
        return was, now, page.locator("#audit tbody tr").first.inner_text()

    was, now, audit = await server.page(steps)
    assert "远 48/48" in was  # 60 places × 0.8
    assert "远 0/0" in now
    assert "anna" in audit and "share" in audit and "0.8" in audit and "0.0" in audit
    after = await sessions_screen(server, "share-2")
    assert "上午" not in after and "下午" not in after, after


@pytest_twisted.ensureDeferred
async def test_suspending_a_session_lists_cancels_and_texts_its_patients(server: Server) -> None:
    codes = [await book(server, f"susp-{n}", f"1380013800{n}", 20 + n) for n in range(2)]
    await server.inbox.until(lambda m: len(m) == 2)
    cell = f"/console/h/main/cell?dept=nk&day={DAY1.isoformat()}&session=am"

    def steps(page: Any) -> dict[str, Any]:
        log_in(page, "anna")
        page.goto(cell)
        shot(page, "cell")
        out: dict[str, Any] = {"taken": page.locator("#taken").inner_text()}
        page.get_by_label("总名额").fill("1")
        page.get_by_role("button", name="保存名额").click()
        out["cut"] = page.locator("#error").inner_text()
        out["places"] = page.locator("#places").inner_text()
        page.locator("#suspend-link").click()
        out["affected"] = page.locator("#affected tbody").inner_text()
        shot(page, "suspend")
        page.get_by_label("原因").fill("医生急诊手术")
        page.get_by_label("我已核对名单").check()
        page.get_by_role("button", name="确认执行").click()
        out["flash"] = page.locator("#flash").inner_text()
        out["after"] = page.locator("#places").inner_text()
        page.goto("/console/h/main/audit")
        out["audit"] = page.locator("#audit tbody tr").first.inner_text()
        return out

    seen = await server.page(steps)
    assert seen["taken"] == "2"
    assert "2" in seen["cut"] and "停诊" in seen["cut"]
    assert seen["places"] == "60"  # the refused cut changed nothing
    for code in codes:
        assert code in seen["affected"]
    assert "13800138000" not in seen["affected"] and "*******8000" in seen["affected"]
    assert "已取消 2 个预约" in seen["flash"]
    assert "停诊" in seen["after"]
    assert "suspend" in seen["audit"] and "医生急诊手术" in seen["audit"]
    await server.inbox.until(lambda m: len(m) == 4)
    closed = [(to, text) for to, text in server.inbox.messages if "停诊" in text]
    assert sorted(to for to, _ in closed) == ["8613800138000", "8613800138001"]
    assert sorted(c for c in codes) == sorted(TCODE.search(t).group(0) for _, t in closed)


@pytest_twisted.ensureDeferred
async def test_a_clerk_finds_a_booking_by_phone_digits_and_cancels_it(server: Server) -> None:
    code = await book(server, "find-1", "13712345678", 31, dept=2)
    await server.inbox.until(lambda m: len(m) == 1)

    def steps(page: Any) -> dict[str, str]:
        log_in(page, "carl")
        page.get_by_role("link", name="查找预约").click()
        page.get_by_label("取号码").fill("5678")
        page.get_by_label("取号码").press("Enter")
        out = {"results": page.locator("#results").inner_text(), "html": page.content()}
        shot(page, "bookings")
        page.get_by_label("取消原因").fill("患者来电要求取消")
        page.get_by_role("button", name="代患者取消").click()
        out["flash"] = page.locator("#flash").inner_text()
        out["status"] = page.locator("#results td.status").inner_text()
        return out

    seen = await server.page(steps)
    assert code in seen["results"] and "外科" in seen["results"]
    assert "13712345678" not in seen["html"] and "*******5678" in seen["results"]
    assert valid_id(31) not in seen["html"]
    assert "已取消" in seen["flash"] and seen["status"] == "已取消"
    await server.inbox.until(lambda m: len(m) == 2)
    assert "已取消" in server.inbox.messages[-1][1] and code in server.inbox.messages[-1][1]


@pytest_twisted.ensureDeferred
async def test_a_viewer_reads_but_gets_no_cancel_button(server: Server) -> None:
    code = await book(server, "view-1", "13712340000", 32)

    def steps(page: Any) -> tuple[int, str]:
        log_in(page, "vera")
        page.goto(f"/console/h/main/bookings?q={code}")
        return page.get_by_role("button", name="代患者取消").count(), page.content()

    buttons, html = await server.page(steps)
    assert buttons == 0 and code in html
    assert "远程比例 %" not in html  # no share form in the grid for a viewer either


@pytest_twisted.ensureDeferred
async def test_another_hospitals_user_is_refused_the_hospitals_page(server: Server) -> None:
    def steps(page: Any) -> tuple[int, str, int]:
        log_in(page, "olga")
        response = page.goto("/console/h/main/schedule")
        status = response.status
        text = page.locator("main").inner_text()
        response = page.goto("/console/h/main/bookings?q=5678")
        return status, text, response.status

    status, text, bookings = await server.page(steps)
    assert status == 403 and "其他医院" in text
    assert bookings == 403


@pytest_twisted.ensureDeferred
async def test_a_form_without_its_csrf_token_is_refused(server: Server) -> None:
    def steps(page: Any) -> tuple[int, str]:
        log_in(page, "anna")
        page.evaluate("document.querySelector('form.share input[name=csrf]').remove()")
        page.get_by_label("远程比例 %").first.fill("10")
        with page.expect_response(lambda r: r.url.endswith("/share")) as answer:
            page.get_by_label("远程比例 %").first.press("Enter")
        page.goto("/console/h/main/schedule")
        return answer.value.status, page.get_by_label("远程比例 %").first.input_value()

    status, share = await server.page(steps)
    assert status == 403
    assert share == "80"  # unchanged


@pytest_twisted.ensureDeferred
async def test_wrong_passwords_are_rate_limited_until_the_window_ends(server: Server) -> None:
    def attempts(page: Any) -> list[str]:
        seen = []
        for password in ["wrong password"] * 5 + [PASSWORD]:
            log_in(page, "anna", password)
            seen.append(page.locator("#login-error").inner_text())
        return seen

    seen = await server.page(attempts)
    assert seen[:5] == ["用户名或密码不对"] * 5
    assert seen[5] == "尝试次数过多，请稍后再试"  # the right password, too late

    def carl(page: Any) -> str:
        log_in(page, "carl")  # another name from the same address still may
        return page.url

    assert (await server.page(carl)).endswith("/console/h/main/schedule")
    server.clock.advance(900)  # the window ends

    def anna(page: Any) -> str:
        log_in(page, "anna")
        return page.url

    assert (await server.page(anna)).endswith("/console/h/main/schedule")


@pytest_twisted.ensureDeferred
async def test_a_clerk_lifts_a_bar_with_a_reason(server: Server) -> None:
    from booking.keys import id_digest

    for dept in (1, 2, 3):  # three cancels in the window bar the ID (the policy's default)
        code = await book(server, f"bar-{dept}", "13600000000", 40, dept=dept)
        await server.running.booking.cancel(code)
    (bar,) = await server.running.booking.blacklist()
    idh = id_digest(valid_id(40))
    assert bar["id_digest"] == idh

    def steps(page: Any) -> dict[str, str]:
        log_in(page, "carl")
        page.get_by_role("link", name="黑名单").click()
        out = {"before": page.locator("#barred tbody").inner_text()}
        shot(page, "blacklist")
        page.get_by_label("解除原因").fill("患者申诉：当日住院")
        page.get_by_role("button", name="解除").click()
        out["flash"] = page.locator("#flash").inner_text()
        out["after"] = page.locator("#barred tbody").inner_text()
        return out

    seen = await server.page(steps)
    assert idh[:8] in seen["before"] and bar["reason"] in seen["before"]
    assert "已解除" in seen["flash"] and idh[:8] not in seen["after"]
    assert await server.running.booking.blacklist() == []
    assert await server.running.booking.barred_until(valid_id(40)) is None


@pytest_twisted.ensureDeferred
async def test_the_console_speaks_english_and_keeps_the_choice(server: Server) -> None:
    def steps(page: Any) -> tuple[str, str]:
        page.goto("/console/login?lang=en")
        shot(page, "login-en")
        page.get_by_label("User name").fill("anna")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/schedule")
        heading = page.locator("h1").inner_text()
        page.goto(f"/console/h/main/cell?dept=nk&day={DAY1.isoformat()}&session=am")
        page.locator("#switch-lang").click()  # to Chinese, on the same session's page
        assert page.locator("h1").inner_text().startswith("内科")
        page.locator("#switch-lang").click()
        page.goto("/console/h/main/schedule")
        page.keyboard.press("Tab")  # the first stop is the skip link, for keyboards
        focused = page.evaluate("document.activeElement.textContent")
        shot(page, "schedule-en")
        return heading, focused

    heading, focused = await server.page(steps)
    assert heading == "Schedule and release"
    assert focused == "Skip to content"
