"""``/voice/live/<lang>/<key>.wav`` (StubTreq): free text a call asked for, rendered once on first
request; nothing for a key no call made."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import pytest_twisted
from twisted.web.resource import Resource
from web_stub import stub_treq

from ivr.live import LiveSpeech
from web.live_speech import LiveSpeechResource

NOTICE = "今日专家门诊停诊"


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
    http = stub_treq(root)
    base = "http://hotline.example/voice/live"
    path = live.url(NOTICE, "yue").split("/voice/live", 1)[1]
    first = await http.get(base + path)
    body = await first.content()
    assert first.code == 200 and body[:4] == b"RIFF" and b"WAVE" in body[:12]
    assert first.headers.getRawHeaders(b"content-type") == [b"audio/wav"]
    cached = live.path("yue", LiveSpeech.key(NOTICE, "yue"))
    assert cached.read_bytes() == body  # kept under its content hash
    live._texts.clear()  # as after a restart: the text is no longer known, the file is
    again = await http.get(base + path)
    assert again.code == 200 and await again.content() == body  # from disk
    stranger = LiveSpeech.key("任意文字", "zh")  # no call asked for it: nothing rendered
    for bad in (f"/zh/{stranger}.wav", "/xx/" + path.rsplit("/", 1)[1], "/zh/../x.wav"):
        reply = await http.get(base + bad)
        await reply.content()
        assert reply.code == 404, bad
    assert not (tmp_path / "cache" / "zh").exists()


def test_serve_mounts_live_speech_only_when_enabled(tmp_path: Path) -> None:
    from hotline.app import mount_live_speech
    from menus.definition import MenuSource, load_menu
    from settings.schema import load_settings

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
