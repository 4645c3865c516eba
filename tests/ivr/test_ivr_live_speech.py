"""Free text said on demand: {speak:…} values become URLs Asterisk plays (the HTTP side that
renders them: tests/web/test_live_speech.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest_twisted

from ivr.agi import AgiReply
from ivr.compose import compose, text_name
from ivr.live import LiveSpeech
from ivr.render import render_output
from menus.template import parse, render_parts
from menus.types import Output, Wait

NOTICE = "今日专家门诊停诊"


def _notice_parts() -> Any:
    return render_parts(parse("今日通知：{speak:notice}"), {"notice": NOTICE})


def test_free_text_is_a_url_with_live_speech_and_a_named_piece_without(tmp_path: Path) -> None:
    live = LiveSpeech("http://hotline:8080/voice/live/", tmp_path)
    (part,) = _notice_parts()
    on = compose(part, "zh", live=live.url)
    assert on[-1].name == f"http://hotline:8080/voice/live/zh/{LiveSpeech.key(NOTICE, 'zh')}.wav"
    assert on[-1].text == NOTICE and live.text_for("zh", LiveSpeech.key(NOTICE, "zh")) == NOTICE
    off = compose(part, "zh")
    assert off[-1].name == text_name(NOTICE, "zh")  # only a recording can say it then


@pytest_twisted.ensureDeferred
async def test_the_call_plays_the_url_with_playback(tmp_path: Path) -> None:
    live = LiveSpeech("http://hotline:8080/voice/live", tmp_path)
    sent: list[tuple[str, ...]] = []

    async def command(*words: Any, missing_ok: bool = False) -> AgiReply:
        sent.append(tuple(str(w) for w in words))
        if words[:2] == ("GET", "DATA"):
            return AgiReply(200, "1", None, "200 result=1")
        return AgiReply(200, "0", None, "200 result=0")

    output = Output(_notice_parts(), Wait(1, 1, False, 5.0, 3.0))
    await render_output(command, output, "zh", lambda _: None, live=live.url)
    url = live.url(NOTICE, "zh")
    assert ("EXEC", "Playback", url) in sent  # fetched through Asterisk's HTTP media cache
    assert not [w for w in sent if w[0] == "GET" and url in w]  # never GET DATA a URL
    assert sent[-1][:3] == ("GET", "DATA", "silence/1")
