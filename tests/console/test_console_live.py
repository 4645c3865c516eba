"""The live dashboard and the appeals queue over real HTTP, with the whole server (real Redis,
the loopback SMSC, booking's time on a task.Clock): the figures a USSD booking moves, the
dialogues per minute, and an appeal texted in at the SMSC, decided in the console and texted
back; another hospital's user refused both."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted
from console_support import DAY1, Server, book, client, reactor, valid_id

from sms.smsc import SmscFactory

ROW = ("nk", DAY1.isoformat(), "am")


def smsc_of(server: Server) -> SmscFactory:
    """The loopback SMSC the app's sender is bound to."""
    for reader in reactor().getReaders():
        factory = getattr(reader, "factory", None)
        if isinstance(factory, SmscFactory) and \
                reader.getHost().port == server.running.smsc_port:
            return factory
    raise AssertionError("no SMSC simulator listening")


def row_of(state: dict[str, Any], dept: str, day: str, session: str) -> dict[str, Any]:
    [d] = [d for d in state["days"] if d["day"] == day]
    [r] = [r for r in d["sessions"] if r["dept"] == dept and r["session"] == session]
    return r


async def figures(user: Any) -> dict[str, Any]:
    answer = await user.get("/console/h/main/dashboard.json")
    assert answer.code == 200
    assert answer.headers.getRawHeaders(b"content-type") == [b"application/json"]
    return json.loads(await answer.text())


@pytest_twisted.ensureDeferred
async def test_the_dashboard_shows_a_ussd_booking_and_the_dialogues_per_minute(
    server: Server,
) -> None:
    olga = await client(server, "olga")  # another hospital's admin
    for page in ("dashboard", "dashboard.json"):
        answer = await olga.get(f"/console/h/main/{page}")
        assert answer.code == 403, page
        assert "其他医院" in await answer.text()
    vera = await client(server, "vera")  # a viewer may read it
    before = await figures(vera)
    assert [d["day"] for d in before["days"]] == [DAY1.replace(day=7).isoformat(),
                                                  DAY1.isoformat()]
    was = row_of(before, *ROW)
    assert (was["remote_taken"], was["remote_held"], was["channels"]["ussd"]) == (0, 0, 0)
    assert before["traffic"]["ussd"][-1] == 0 and len(before["traffic"]["ussd"]) == 30
    submitted = before["sms"]["submitted"]

    await book(server, "live-1", "13800138001", 1)
    await server.inbox.until(lambda m: len(m) == 1)  # the booking's SMS reached the SMSC
    after = await figures(vera)
    now = row_of(after, *ROW)
    assert now["remote_taken"] == 1 and now["channels"]["ussd"] == 1
    assert now["remote_free"] == was["remote_free"] - 1
    assert now["channels"]["ivr"] == 0 and now["checked_in"] == 0 and now["no_show"] == 0
    assert after["days"][1]["totals"]["channels"]["ussd"] == 1
    assert after["traffic"]["ussd"][-1] == 1 and after["traffic"]["ivr"][-1] == 0
    assert after["sms"]["submitted"] >= submitted + 1 and after["sms"]["queued"] == 0
    assert "<svg" in after["html"] and 'id="row-nk-2026-12-08-am"' in after["html"]
    server.clock.advance(60)  # a minute on: the dialogue is in the minute before
    later = await figures(vera)
    assert later["traffic"]["ussd"][-2:] == [1, 0]
    page = await vera.get("/console/h/main/dashboard")
    html = await page.text()
    assert page.code == 200 and "<svg" in html and "/console/static/dashboard.js" in html
    script = await vera.get("/console/static/dashboard.js")
    assert script.code == 200 and "dashboard.json" not in await script.text()  # from the page


async def barred_phone(server: Server, seq: int, phone: str) -> str:
    """Bar ``valid_id(seq)`` by three cancels; the phone's number as the SMSC writes it."""
    for dept in (1, 2, 3):
        code = await book(server, f"appeal-{seq}-{dept}", phone, seq, dept=dept)
        await server.running.booking.cancel(code)
    assert await server.running.booking.barred_until(valid_id(seq)) is not None
    await server.inbox.until(lambda m: len(m) >= 6)  # booked and cancelled, three times
    return server.inbox.messages[0][0]


@pytest_twisted.ensureDeferred
async def test_an_appeal_texted_in_is_queued_decided_audited_and_answered_by_sms(
    server: Server,
) -> None:
    msisdn = await barred_phone(server, 41, "13600000041")
    sent = len(server.inbox.messages)
    smsc_of(server).deliver("12580", msisdn, "SS 当日住院，无法就诊")
    await server.inbox.until(lambda m: len(m) == sent + 1)
    assert "申诉已收到" in server.inbox.messages[-1][1]
    [appeal] = await server.running.booking.appeals("main")
    carl = await client(server, "carl")
    page = await (await carl.get("/console/h/main/blacklist")).text()
    assert appeal["id_digest"][:8] in page and "当日住院，无法就诊" in page
    assert msisdn not in page and msisdn[-4:] in page  # the phone masked
    olga = await client(server, "olga")
    form = {"digest": appeal["id_digest"], "decision": "lift", "reason": "x"}
    assert (await olga.post("/console/h/main/appeal", form)).code == 403
    vera = await client(server, "vera")
    assert (await vera.post("/console/h/main/appeal", form)).code == 403  # a viewer only reads
    no_reason = await carl.post("/console/h/main/appeal", {**form, "reason": ""})
    assert no_reason.code == 400
    assert len(await server.running.booking.appeals("main")) == 1  # nothing was decided

    done = await carl.post("/console/h/main/appeal", {**form, "reason": "住院证明已核实"})
    assert done.code == 303
    assert done.headers.getRawHeaders(b"location") == [
        b"/console/h/main/blacklist?msg=appeal_lifted"]
    await server.inbox.until(lambda m: len(m) == sent + 2)
    to, text = server.inbox.messages[-1]
    assert to == msisdn and "申诉通过" in text and "住院证明已核实" in text
    assert text.startswith("【") and "】" in text  # the hospital's signature
    assert await server.running.booking.barred_until(valid_id(41)) is None
    assert await server.running.booking.appeals("main") == []
    again = await carl.post("/console/h/main/appeal", {**form, "reason": "again"})
    assert again.code == 404  # decided once
    anna = await client(server, "anna")
    audit = await (await anna.get("/console/h/main/audit")).text()
    assert "appeal" in audit and "住院证明已核实" in audit and "lifted" in audit


@pytest_twisted.ensureDeferred
async def test_a_refused_appeal_keeps_the_bar_and_says_until_when(server: Server) -> None:
    msisdn = await barred_phone(server, 42, "13600000042")
    sent = len(server.inbox.messages)
    smsc_of(server).deliver("12580", msisdn, "申诉 忘记了")
    await server.inbox.until(lambda m: len(m) == sent + 1)
    [appeal] = await server.running.booking.appeals("main")
    carl = await client(server, "carl")
    done = await carl.post("/console/h/main/appeal", {
        "digest": appeal["id_digest"], "decision": "refuse", "reason": "无正当理由"})
    assert done.code == 303
    await server.inbox.until(lambda m: len(m) == sent + 2)
    text = server.inbox.messages[-1][1]
    assert "申诉未通过" in text and "无正当理由" in text and "-" in text  # until a day
    assert await server.running.booking.barred_until(valid_id(42)) is not None
