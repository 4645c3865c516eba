"""Screens, our notices in both languages, oversized screens, and what reaches the logs."""

from __future__ import annotations

from typing import Any

import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from twisted.logger import formatEvent, globalLogPublisher
from ussd_harness import PHONE, CountingDialogue, start_server

from menus.types import Output, Say, SayDigits, Wait
from ussd.inputs import new_input
from ussd.render import message, over_limit, reply_body


def test_reply_body_continues_or_ends_and_shows_digits_plain() -> None:
    waiting = Output((Say("请选择："), Say("1 内科")), Wait())
    assert reply_body(waiting) == "CON 请选择：\n1 内科"
    done = Output((Say("取号码："), SayDigits("0123456789")), None)
    assert reply_body(done) == "END 取号码：\n0123456789"


def test_over_limit_counts_gsm7_and_ucs2_differently() -> None:
    assert not over_limit("a" * 182) and over_limit("a" * 183)
    assert not over_limit("内" * 70) and over_limit("内" * 71)  # the 70-unit Chinese budget
    assert over_limit("a" * 80 + "内")  # one Chinese character makes the whole screen UCS-2


def test_notices_follow_the_language_and_fall_back_to_chinese() -> None:
    assert message("expired", "en") == "Session expired, please dial again."
    assert message("expired", "zh") == "会话已过期，请重新拨号。"
    assert message("expired", "fr") == message("expired", "zh")


def test_new_input_takes_the_suffix_and_keeps_stars_inside_inputs() -> None:
    assert new_input("", "1") == "1"
    assert new_input("", "1*2") == "1*2"
    assert new_input("1*1", "1*1*11010519491231002*") == "11010519491231002*"
    assert new_input("1", "1*") == ""
    assert new_input("1*2", "1*3") is None
    assert new_input("1*2", "1") is None


@pytest_twisted.ensureDeferred
async def test_hop_log_masks_the_phone_number(redis) -> None:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    server = await start_server(CountingDialogue(), redis)
    try:
        await server.post(text="")
        await server.post(text="1")
        await server.post(text="1*11010519491231002*")
    finally:
        globalLogPublisher.removeObserver(events.append)
        await server.port.stopListening()
    hops = [formatEvent(e) for e in events if e.get("log_namespace") == "hotline.ussd"]
    assert len(hops) == 3
    assert all("msisdn=*********8000" in t for t in hops)
    everything = " ".join(formatEvent(e) for e in events) + repr(events)
    assert PHONE[1:] not in everything and "13800138000" not in everything
    assert "11010519491231002" not in everything


@pytest_twisted.ensureDeferred
async def test_notices_use_the_default_language_when_the_session_is_unknown(redis) -> None:
    server = await start_server(CountingDialogue(), redis, default_lang="en")
    try:
        assert await server.post(sessionId="gone", text="1") == (
            200, "END Session expired, please dial again.")
    finally:
        await server.port.stopListening()


@given(st.lists(st.text(alphabet="0123456789*#X", max_size=20), min_size=1, max_size=12).filter(
    lambda xs: xs[0] != ""))
def test_new_input_recovers_every_input_from_the_cumulative_text(inputs: list[str]) -> None:
    previous = ""
    for value in inputs:
        text = f"{previous}*{value}" if previous else value
        assert new_input(previous, text) == value
        previous = text
