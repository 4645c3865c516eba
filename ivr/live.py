"""Live speech for free text no piece can say (a hospital's notice of the day): optional.

A value written ``{speak:notice}`` cannot be built beforehand. With live speech on
(``ivr.live_speech``), the call hands Asterisk a URL, ``EXEC Playback http://…/<lang>/<key>.wav``
(Asterisk's HTTP media cache fetches and caches it), and ``web.live_speech`` renders the text
on the first request with espeak-ng + sox (the build's voice and trimming), keeping the file
under its content hash: a text said again is served from disk, by hotline and by Asterisk's
cache. Only texts a call has asked for are rendered, so the endpoint synthesises nothing a
stranger sends. Off by default: the first caller to hear a new text waits for the synthesis
(around a second), and the URL must be reachable from Asterisk (docs/ivr.md).
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from pathlib import Path

KEY = re.compile(r"^[0-9a-f]{20}$")


class LiveSpeech:
    """URLs for free text (``url``) and what is behind them (``text_for``, ``path``)."""

    def __init__(self, base_url: str, cache_dir: Path, *, remember: int = 4096) -> None:
        self.base_url = base_url.rstrip("/")
        self.cache_dir = cache_dir
        self.remember = remember
        self._texts: OrderedDict[tuple[str, str], str] = OrderedDict()

    @staticmethod
    def key(text: str, lang: str) -> str:
        """The content hash a text is kept under (voice, rate and trimming are the build's)."""
        from ivr.prompts import RATE_WPM, TRIM, VOICES

        shape = f"{lang}\0{text}\0{VOICES.get(lang, lang)}\0{RATE_WPM}\0{TRIM}"
        return hashlib.sha256(shape.encode("utf-8")).hexdigest()[:20]

    def url(self, text: str, lang: str) -> str:
        """The URL Asterisk plays for ``text``; the text is remembered so the URL can serve it."""
        key = self.key(text, lang)
        self._texts[(lang, key)] = text
        self._texts.move_to_end((lang, key))
        while len(self._texts) > self.remember:
            self._texts.popitem(last=False)
        return f"{self.base_url}/{lang}/{key}.wav"

    def text_for(self, lang: str, key: str) -> str | None:
        return self._texts.get((lang, key))

    def path(self, lang: str, key: str) -> Path:
        return self.cache_dir / lang / f"{key}.wav"
