"""Media commands the simulator runs: STREAM FILE, SAY DIGITS/ALPHA, GET DATA, WAIT FOR DIGIT.

Kept apart from the protocol (``ivr.simulator``) so the rules of one media command read in one
place: the script's keys joining the DTMF buffer, prompts stopped by escape digits, keying and
timeouts on the virtual timeline, a caller hanging up mid-prompt. A mixin of
``AsteriskSimulator``, and the base of ``AppsMixin`` (Read plays and collects the same way): it
uses the simulator's script, DTMF buffer and reply helpers.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from twisted.internet.interfaces import IDelayedCall

from ivr.simulator_rules import (
    DIGIT_S,
    PROMPT_S,
    SAMPLES_PER_PROMPT,
    Press,
    collect,
    during_playback,
)
from ivr.simulator_steps import HANGUP, SILENCE, Keys, TypeAhead


class MediaMixin:
    """The media half of ``AsteriskSimulator``: what one media command plays, hears and replies."""

    script: deque[Any]
    dtmf: list[Press]
    transcript: list[tuple[str, str]]
    missing: frozenset[str]
    broken_media: bool
    sounds: Any
    lenient: bool
    language: str
    faults: list[str]
    variables: dict[str, str]
    dead: bool
    _running: tuple[IDelayedCall, str] | None

    def _reply(self, line: str) -> None:
        raise NotImplementedError

    def _caller_hangup(self) -> None:
        raise NotImplementedError

    def _spend(self, seconds: float) -> None:
        raise NotImplementedError

    def _absent(self, name: str) -> bool:
        """Is ``name`` missing for the channel's language? In strict mode that is a fault."""
        if self.broken_media or name in self.missing:
            return True
        if self.sounds is None or name == "silence/1":  # a stock Asterisk file
            return False
        lang = self.variables.get("CHANNEL(language)", self.language)
        if name in self.sounds.get(lang, ()):
            return False
        if not self.lenient:
            self.faults.append(f"{lang}/{name}")
            self.transcript.append(("fault", f"not in the sound set: {lang}/{name}"))
        return True

    def _fault_hangup(self) -> None:
        """Strict mode: a caller who heard silence where a prompt should be hangs up."""
        if self.faults and not self.lenient and not self.dead:
            self._caller_hangup()

    def _take_type_ahead(self) -> None:
        """Keys the script presses now (``TypeAhead``) wait in the DTMF buffer for the prompt."""
        if self.script and isinstance(self.script[0], TypeAhead):
            step = self.script.popleft()
            assert isinstance(step, TypeAhead)
            self.dtmf += [(key, 0.0) for key in step.keys]

    def _take_typed(self) -> None:
        """The caller answers now: the next keys step joins the DTMF buffer."""
        if self.script and isinstance(self.script[0], str):
            self.dtmf += [(key, 0.0) for key in str(self.script.popleft())]
        elif self.script and isinstance(self.script[0], Keys):
            step = self.script.popleft()
            assert isinstance(step, Keys)
            self.dtmf += step.presses()

    def _run_media(self, name: str, argv: list[str]) -> None:
        self._running = None
        if self.script and self.script[0] == HANGUP:
            self.script.popleft()
            self._spend(PROMPT_S / 2)
            self._reply("200 result=-1" + (" endpos=4000" if name == "stream file" else ""))
            self._caller_hangup()
            return
        self._take_type_ahead()
        if name == "get data":
            self._get_data(argv)
        elif name == "wait for digit":
            self._take_typed()
            key, _, waited, self.dtmf = collect(self.dtmf, 1, int(argv[3]))
            self._spend(waited)
            self._reply(f"200 result={ord(key)}" if key else "200 result=0")
        else:
            self._playback(name, argv)

    def _playback(self, name: str, argv: list[str]) -> None:
        """STREAM FILE / SAY DIGITS / SAY ALPHA: play, stop early on an escape digit."""
        if name == "stream file":
            self.transcript.append(("play", argv[2]))
            if self._absent(argv[2]):
                offset = argv[4] if len(argv) > 4 else "0"
                self._reply(f"200 result=-1 endpos={offset}")
                self._fault_hangup()
                return
            duration = PROMPT_S
        else:
            self.transcript.append((name.replace(" ", "_"), argv[2]))
            duration = DIGIT_S * len(argv[2])
            if self.sounds is not None and not self.lenient:
                files = [f"digits/{c}" if c.isdigit() else f"letters/{c.lower()}" for c in argv[2]]
                if [f for f in files if self._absent(f)]:
                    self._reply("200 result=0")  # Asterisk says the digits it has
                    self._fault_hangup()
                    return
        key, took, self.dtmf = during_playback(self.dtmf, argv[3], duration)
        self._spend(took)
        if key:
            self.transcript.append(("key", key))
        result = str(ord(key)) if key else "0"
        if name == "stream file":
            endpos = int(SAMPLES_PER_PROMPT * took / PROMPT_S)
            self._reply(f"200 result={result} endpos={endpos}")
        else:
            self._reply(f"200 result={result}")

    def _get_data(self, argv: list[str]) -> None:
        self.transcript.append(("play", argv[2]))
        if self._absent(argv[2]):
            self._reply("200 result=-1")
            self._fault_hangup()
            return
        max_digits = int(argv[4]) if len(argv) > 4 and argv[4].lstrip("-").isdigit() else 0
        max_digits = max_digits if max_digits > 0 else 1024
        timeout_ms = int(argv[3]) if len(argv) > 3 and argv[3].lstrip("-").isdigit() else 0
        # the prompt plays first; any key stops it and starts the entry (type-ahead is kept)
        typed = bool(self.dtmf)
        if not typed and self.script and self.script[0] == SILENCE:
            self.script.popleft()
        elif not typed:
            self._take_typed()
        if not self.dtmf:
            self._spend(PROMPT_S if argv[2] != "silence/1" else 1.0)
        digits, end, waited, self.dtmf = collect(self.dtmf, max_digits, timeout_ms)
        self._spend(waited)
        if end == "timeout":
            self.transcript.append(("key", digits) if digits else ("timeout", argv[2]))
            self._reply(f"200 result={digits} (timeout)")
            return
        self.transcript.append(("key", digits + ("#" if end == "#" else "")))
        self._reply(f"200 result={digits}")
