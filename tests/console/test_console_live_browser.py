"""The live dashboard and the appeals queue in a real browser (Debian's chromium through
Playwright): the dashboard follows a USSD booking without a reload, a clerk decides an appeal,
and another hospital's user is refused both."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest_twisted
from console_support import DAY1, Server, book, log_in
from test_console_live import barred_phone, smsc_of

SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")  # a folder: the pages are saved there (docs/img)
ROW = f"#row-nk-{DAY1.isoformat()}-am"


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"console-{name}.png"), full_page=False)


@pytest_twisted.ensureDeferred
async def test_the_dashboard_follows_a_ussd_booking_without_a_reload(server: Server) -> None:
    browser = server.session()
    try:
        def first(page: Any) -> str:
            log_in(page, "vera")
            page.get_by_role("link", name="实时看板").click()
            page.wait_for_url("**/dashboard")
            page.evaluate("window.__same_page = true")  # gone if the page were loaded again
            return page.locator(f"{ROW} td.ch-ussd").inner_text()

        assert await browser.step(first) == "0"
        await book(server, "browser-live", "13800138009", 9)

        def then(page: Any) -> dict[str, Any]:
            from playwright.sync_api import expect

            expect(page.locator(f"{ROW} td.ch-ussd")).to_have_text("1", timeout=20000)
            shot(page, "dashboard")
            return {"same": page.evaluate("window.__same_page === true"),
                    "remote": page.locator(f"{ROW} td.remote .fig").inner_text(),
                    "ussd_now": page.locator("#ussd-now").inner_text(),
                    "svg": page.locator(f"{ROW} svg.bar rect").count()}

        seen = await browser.step(then)
    finally:
        await browser.close()
    assert seen["same"] is True  # updated in place, not reloaded
    assert seen["remote"].startswith("1/0/") and seen["ussd_now"] == "1"
    assert seen["svg"] >= 2  # taken and free drawn


@pytest_twisted.ensureDeferred
async def test_a_clerk_decides_an_appeal_and_the_patient_gets_the_sms(server: Server) -> None:
    msisdn = await barred_phone(server, 43, "13600000043")
    sent = len(server.inbox.messages)
    smsc_of(server).deliver("12580", msisdn, "SS 孩子发烧住院，未能就诊")
    await server.inbox.until(lambda m: len(m) == sent + 1)

    def olga(page: Any) -> list[str]:
        log_in(page, "olga")
        texts = []
        for path in ("/console/h/main/dashboard", "/console/h/main/blacklist"):
            page.goto(path)
            texts.append(page.locator("main").inner_text())
        return texts

    for text in await server.page(olga):
        assert "其他医院" in text and "孩子发烧" not in text

    def carl(page: Any) -> dict[str, str]:
        log_in(page, "carl")
        page.get_by_role("link", name="黑名单").click()
        out = {"queue": page.locator("#appeals tbody").inner_text()}
        shot(page, "appeals")
        page.get_by_label("处理理由").fill("已核实住院证明")
        page.get_by_role("button", name="通过并解除").click()
        page.wait_for_url("**/blacklist?msg=appeal_lifted")
        out["flash"] = page.locator("#flash").inner_text()
        out["after"] = page.locator("#appeals tbody").inner_text()
        return out

    seen = await server.page(carl)
    assert "孩子发烧住院，未能就诊" in seen["queue"] and msisdn[-4:] in seen["queue"]
    assert "申诉已通过" in seen["flash"] and "孩子发烧" not in seen["after"]
    await server.inbox.until(lambda m: len(m) == sent + 2)
    to, text = server.inbox.messages[-1]
    assert to == msisdn and "申诉通过" in text and "已核实住院证明" in text
