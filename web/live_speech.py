"""``GET /voice/live/<lang>/<key>.wav``: the free text a call asked for, rendered on first use.

The HTTP side of ``ivr.live.LiveSpeech`` (docs/ivr.md "Free text"): a key a call has handed to
Asterisk is rendered once with espeak-ng + sox in a thread (never on the reactor) and kept on
disk under its content hash; later requests, from any call, read the file. Unknown keys get 404:
nothing is synthesised for a request no call made.
"""

from __future__ import annotations

from typing import Any

import structlog
from twisted.internet.threads import deferToThread
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.server import Request as WebRequest

from ivr.live import KEY, LiveSpeech
from ivr.prompts import render_wav

log = structlog.get_logger("web.live_speech")


class LiveSpeechResource(Resource):
    isLeaf = True

    def __init__(self, live: LiveSpeech, languages: frozenset[str]) -> None:
        super().__init__()
        self.live = live
        self.languages = languages
        # keys being rendered -> the requests waiting for them (and whether each has gone)
        self._rendering: dict[tuple[str, str], list[tuple[WebRequest, list[bool]]]] = {}

    def render_GET(self, request: WebRequest) -> bytes | int:
        parts = [p.decode("ascii", "replace") for p in request.postpath]
        if len(parts) != 2 or parts[0] not in self.languages or not parts[1].endswith(".wav"):
            return self._missing(request)
        lang, key = parts[0], parts[1].removesuffix(".wav")
        if not KEY.match(key):
            return self._missing(request)
        path = self.live.path(lang, key)
        if path.is_file():
            return self._send(request, path.read_bytes())
        text = self.live.text_for(lang, key)
        if text is None:
            return self._missing(request)
        waiting = self._rendering.get((lang, key))
        if waiting is None:  # one synthesis per key however many callers ask at once
            waiting = self._rendering[(lang, key)] = []
            rendered = deferToThread(render_wav, text, lang, path)
            rendered.addCallbacks(
                self._serve_all, self._fail_all, callbackArgs=((lang, key),),
                errbackArgs=((lang, key),),
            )  # fmt: skip
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        waiting.append((request, gone))
        return NOT_DONE_YET

    def _serve_all(self, _: Any, key: tuple[str, str]) -> None:
        body = self.live.path(*key).read_bytes()
        for request, gone in self._rendering.pop(key, []):
            if not gone:
                request.write(self._send(request, body))
                request.finish()

    def _fail_all(self, failure: Any, key: tuple[str, str]) -> None:
        log.error("live_speech.render_failed", why=failure.getErrorMessage())
        for request, gone in self._rendering.pop(key, []):
            if not gone:
                request.setResponseCode(500)
                request.write(b"speech failed\n")
                request.finish()

    @staticmethod
    def _send(request: WebRequest, body: bytes) -> bytes:
        request.setHeader(b"content-type", b"audio/wav")
        request.setHeader(b"cache-control", b"max-age=86400")
        return body

    @staticmethod
    def _missing(request: WebRequest) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"unknown speech\n"
