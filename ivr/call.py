"""One phone call: turns menu Outputs into AGI commands and DTMF replies into menu Inputs.

The call is a short state machine: ``env → (render output → collect input → resume)* → end``.
It ends in one of three ways, each handled once in ``run``:
  * the output has no ``wait`` → ``HANGUP`` and close;
  * the caller hangs up (``HANGUP`` line, ``result=-1``, 511, socket lost) → feed ``HangUp()`` to
    the dialogue so the menu can release what it holds, then close;
  * a media or engine failure → feed ``HangUp()``, close without ``HANGUP`` so the dialplan can
    continue (e.g. play a fallback recording).
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

import phonenumbers

from ivr.agi import AgiEnv, AgiProtocol, AgiReply, CallEnded, Quoted
from menus.types import Digits, HangUp, Input, NoInput, Output, Say, SayDigits, Session

BARGE_IN = "0123456789*"  # keys that stop a prompt; '#' only ends GET DATA
SILENCE = "silence/1"  # a stock Asterisk file: GET DATA needs a file to play
_RUNS = re.compile(r"[0-9]+|[A-Za-z]+")


class DialogueLike(Protocol):
    """What a call needs from ``menus.driver.Dialogue``."""

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None
    ) -> tuple[Session, Output]: ...

    async def resume(self, session: Session, inp: Input) -> tuple[Session, Output]: ...


class _Ended(Exception):
    """The call cannot go on; ``hung_up`` tells a caller hang-up from a media failure."""

    def __init__(self, why: str, *, hung_up: bool) -> None:
        super().__init__(why)
        self.hung_up = hung_up


def normalise_msisdn(callerid: str | None, region: str = "CN") -> str:
    """Caller ID → E.164 digits without '+'; '' when withheld or not a valid number."""
    if not callerid:
        return ""
    raw = callerid.strip()
    if raw.isdigit() and raw.startswith("86") and len(raw) == 13:
        raw = "+" + raw  # a mobile number with the country code but no '+'
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def prompt_name(part: Say, lang: str) -> str:
    """The sound file for a Say: its ``prompt``, else ``hotline/<lang>/<sha1(text)[:12]>``."""
    if part.prompt:
        return part.prompt
    digest = hashlib.sha1(part.text.encode("utf-8")).hexdigest()[:12]
    return f"hotline/{lang}/{digest}"


class Call:
    """Drives one FastAGI connection through one menu dialogue."""

    def __init__(
        self,
        agi: AgiProtocol,
        env: AgiEnv,
        dialogue: DialogueLike,
        *,
        default_menu: str | None = None,
        command_timeout: float = 60.0,
    ) -> None:
        self.agi = agi
        self.env = env
        self.dialogue = dialogue
        self.menu = env.script or default_menu or ""
        self.msisdn = normalise_msisdn(env.callerid)
        self.command_timeout = command_timeout
        self.answered = False
        self.log = agi.log.bind(caller_tail=self.msisdn[-4:] or "withheld")

    async def run(self) -> None:
        """Run the dialogue to its end; never raises."""
        session: Session | None = None
        final = False  # the last output was rendered: nothing to release
        try:
            if not self.menu:
                raise _Ended("no menu in agi_network_script", hung_up=False)
            session, output = await self.dialogue.begin(
                self.menu, channel="ivr", msisdn=self.msisdn, lang=self.env.params.get("lang")
            )
            self.log.info("ivr.call_start")
            while True:
                final = output.ends
                inp = await self._render(output, session.lang)
                if final:
                    await self._command("HANGUP")
                    self.log.info("ivr.call_done", node=session.node)
                    return
                session, output = await self.dialogue.resume(session, inp)
        except _Ended as ended:
            event = "ivr.caller_hangup" if ended.hung_up else "ivr.call_ended"
            self.log.info(event, why=str(ended), node=session.node if session else None)
            if session is not None and not session.ended and not final:
                await self._release(session)
        except Exception:
            self.log.exception("ivr.call_error", node=session.node if session else None)
            if session is not None and not session.ended and not final:
                await self._release(session)
        finally:
            self.agi.close()

    async def _release(self, session: Session) -> None:
        """Tell the menu the caller is gone so it can drop holds and end the session."""
        try:
            await self.dialogue.resume(session, HangUp())
        except Exception:
            self.log.exception("ivr.hangup_feed_failed")

    # ------------------------------------------------------------------ rendering

    async def _render(self, output: Output, lang: str) -> Input:
        """Play ``output``; if it waits, collect and return the caller's input."""
        if not self.answered:
            await self._command("ANSWER")
            self.answered = True
        wait = output.wait
        escape = BARGE_IN if wait is not None else ""
        parts = list(output.parts)
        last_prompt = None
        if wait is not None and parts and isinstance(parts[-1], Say):
            last_prompt = prompt_name(parts.pop(), lang)  # GET DATA plays it
        first = ""
        for part in parts:
            first = await self._play(part, lang, escape)
            if first:
                break
        if wait is None:
            return NoInput()
        if first and wait.max_digits <= 1:
            return Digits(first)
        if first:  # barge-in: the pressed key counts; collect the rest after it
            prompt, timeout_s, max_digits = SILENCE, wait.inter_timeout_s, wait.max_digits - 1
        else:
            prompt, timeout_s = last_prompt or SILENCE, wait.first_timeout_s
            max_digits = wait.max_digits
        ms = str(int(timeout_s * 1000))
        budget = self.command_timeout + timeout_s * (max_digits + 1)
        reply = await self._command("GET", "DATA", prompt, ms, str(max_digits), timeout=budget)
        digits = first + reply.result
        return Digits(digits) if digits else NoInput()

    async def _play(self, part: Say | SayDigits, lang: str, escape: str) -> str:
        """Play one part; return the barge-in key ('' if none)."""
        if isinstance(part, Say):
            reply = await self._command("STREAM", "FILE", prompt_name(part, lang), Quoted(escape))
            return reply.key or ""
        for run in _RUNS.findall(part.digits):
            verb = "DIGITS" if run.isdigit() else "ALPHA"
            reply = await self._command("SAY", verb, run, "")
            if reply.key:
                return reply.key
        return ""

    async def _command(self, *words: str, timeout: float | None = None) -> AgiReply:
        """Send one command; raise _Ended on hang-up, dead channel or media failure."""
        if self.agi.hung_up:
            raise _Ended("hangup line", hung_up=True)
        try:
            reply = await self.agi.command(*words, timeout=timeout or self.command_timeout)
        except CallEnded as err:
            raise _Ended("socket closed", hung_up=True) from err
        except Exception as err:  # a timeout: the protocol has closed the call
            raise _Ended(f"{words[0]} {type(err).__name__}", hung_up=False) from err
        if reply.code == 511 or self.agi.hung_up:
            raise _Ended(f"{words[0]} on a dead channel", hung_up=True)
        if reply.failed:
            if words[0] == "HANGUP":
                return reply
            raise _Ended(f"{' '.join(words[:2])} result=-1: hang-up or media", hung_up=False)
        if not reply.ok:
            raise _Ended(f"{words[0]} got {reply.code}", hung_up=False)
        return reply
