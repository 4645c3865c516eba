"""Free text said on demand: {speak:…} values become URLs Asterisk plays, rendered once."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.client import Agent, readBody
from twisted.web.resource import Resource
from twisted.web.server import Site

from ivr.agi import AgiReply
from ivr.compose import compose, text_name
from ivr.live import LiveSpeech
from ivr.render import render_output
from menus.template import parse, render_parts
from menus.types import Output, Wait
from web.live_speech import LiveSpeechResource

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


def _tools() -> None:
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail("espeak-ng and sox not installed")
        pytest.skip("espeak-ng and sox not installed")


@pytest_twisted.ensureDeferred
async def test_the_url_renders_once_and_serves_only_what_a_call_asked_for(tmp_path) -> None:
    _tools()
    live = LiveSpeech("http://127.0.0.1/voice/live", tmp_path / "cache")
    root = Resource()
    voice = Resource()
    voice.putChild(b"live", LiveSpeechResource(live, frozenset({"zh", "yue"})))
    root.putChild(b"voice", voice)
    port = reactor.listenTCP(0, Site(root), interface="127.0.0.1")
    base = f"http://127.0.0.1:{port.getHost().port}/voice/live"
    agent = Agent(reactor)
    try:
        path = live.url(NOTICE, "yue").split("/voice/live", 1)[1]
        first = await agent.request(b"GET", (base + path).encode())
        body = await readBody(first)
        assert first.code == 200 and body[:4] == b"RIFF" and b"WAVE" in body[:12]
        assert first.headers.getRawHeaders(b"content-type") == [b"audio/wav"]
        cached = live.path("yue", LiveSpeech.key(NOTICE, "yue"))
        assert cached.read_bytes() == body  # kept under its content hash
        live._texts.clear()  # as after a restart: the text is no longer known, the file is
        again = await agent.request(b"GET", (base + path).encode())
        assert again.code == 200 and await readBody(again) == body  # from disk
        stranger = LiveSpeech.key("任意文字", "zh")  # no call asked for it: nothing rendered
        for bad in (f"/zh/{stranger}.wav", "/xx/" + path.rsplit("/", 1)[1], "/zh/../x.wav"):
            reply = await agent.request(b"GET", (base + bad).encode())
            await readBody(reply)
            assert reply.code == 404, bad
        assert not (tmp_path / "cache" / "zh").exists()
    finally:
        await port.stopListening()


def test_serve_mounts_live_speech_only_when_enabled(tmp_path: Path) -> None:
    from hotline.app import mount_live_speech
    from hotline.settings import load_settings
    from menus.definition import MenuSource, load_menu

    root_dir = Path(__file__).resolve().parents[2]
    menus = MenuSource([load_menu(root_dir / "config/menus/booking.yaml")])
    off = load_settings(None)
    root = Resource()
    assert mount_live_speech(root, off, menus) is None and b"voice" not in root.children
    missing = load_settings(None, {"ivr": {"live_speech": {"enabled": True}}})
    with pytest.raises(ValueError, match=r"ivr\.live_speech\.url"):
        mount_live_speech(Resource(), missing, menus)
    on = load_settings(None, {"ivr": {"live_speech": {
        "enabled": True, "url": "http://hotline:8080/voice/live", "cache_dir": str(tmp_path),
    }}})  # fmt: skip
    live = mount_live_speech(root, on, menus)
    assert live is not None and live.url(NOTICE, "yue").startswith("http://hotline:8080/")
    leaf = root.children[b"voice"].children[b"live"]
    assert isinstance(leaf, LiveSpeechResource) and leaf.languages == {"zh", "en", "yue"}
