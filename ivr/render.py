"""Voice rendering of one menu ``Output``: prompts, digit read-back, barge-in, input collection.

Rules (docs/ivr.md "What the server sends"):
  * every ``Say`` is a prompt file (``STREAM FILE``) that a key interrupts (barge-in) unless the
    part opts out (``bargein=False``, for legal notices: keys pressed during it are dropped);
  * the last ``Say`` of an output that waits is played by ``GET DATA`` itself;
  * ``SayDigits`` (T-codes, phone and ID numbers) is read digit by digit (``SAY DIGITS``; letters,
    e.g. an ID's X, by ``SAY ALPHA``);
  * a barge-in key counts as the first digit; a 1-digit wait is then complete; ``*`` ends the
    entry at once unless the wait takes it as an ID's X;
  * ``GET DATA`` ends by itself at ``max_digits`` (fixed length) or on ``#`` (variable length);
  * a missing prompt file is skipped with a warning (GET DATA then listens after silence/1);
    only a missing silence/1 or a dead channel ends the call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable

from ivr.agi import AgiReply, Quoted
from ivr.states import CallState
from menus.types import Digits, Input, NoInput, Output, Say, SayDigits

BARGE_IN = "0123456789*"  # keys that stop a prompt; '#' only ends GET DATA
SILENCE = "silence/1"  # a stock Asterisk file: GET DATA needs a file to play
_RUNS = re.compile(r"[0-9]+|[A-Za-z]+")

Command = Callable[..., Awaitable[AgiReply]]


def prompt_name(part: Say, lang: str) -> str:
    """The sound file for a Say: its ``prompt``, else ``hotline/<lang>/<sha1(text)[:12]>``."""
    if part.prompt:
        return part.prompt
    digest = hashlib.sha1(part.text.encode("utf-8")).hexdigest()[:12]
    return f"hotline/{lang}/{digest}"


def bargein(part: Say | SayDigits) -> bool:
    """May a key stop this part? ``Say.bargein`` when the menu sets it, else yes."""
    return bool(getattr(part, "bargein", True))


async def render_output(
    command: Command, output: Output, lang: str, to_state: Callable[[CallState], None]
) -> Input:
    """Play ``output``; if it waits, collect and return the caller's input (else NoInput)."""
    wait = output.wait
    parts = list(output.parts)
    last_prompt = None
    if wait is not None and parts and isinstance(parts[-1], Say) and bargein(parts[-1]):
        last_prompt = prompt_name(parts.pop(), lang)  # GET DATA plays it
    first = ""
    for part in parts:
        escape = BARGE_IN if wait is not None and bargein(part) else ""
        first = await _play(command, part, lang, escape)
        if first:
            break
    if wait is None:
        return NoInput()
    if first and (wait.max_digits <= 1 or (first == "*" and not wait.allow_star)):
        return Digits(first)
    if first:  # barge-in: the pressed key counts; collect the rest after it
        prompt, timeout_s, max_digits = SILENCE, wait.inter_timeout_s, wait.max_digits - 1
    else:
        prompt, timeout_s = last_prompt or SILENCE, wait.first_timeout_s
        max_digits = wait.max_digits
    to_state(CallState.COLLECTING)
    ms = str(int(timeout_s * 1000))
    reply = await command("GET", "DATA", prompt, ms, str(max_digits), missing_ok=True)
    if reply.failed:  # the prompt file is missing: listen anyway, after a moment of silence
        reply = await command("GET", "DATA", SILENCE, ms, str(max_digits))
    digits = first + reply.result
    return Digits(digits) if digits else NoInput()


async def _play(command: Command, part: Say | SayDigits, lang: str, escape: str) -> str:
    """Play one part; return the barge-in key ('' if none)."""
    if isinstance(part, Say):
        name = prompt_name(part, lang)
        reply = await command("STREAM", "FILE", name, Quoted(escape), missing_ok=True)
        return reply.key or ""
    for run in _RUNS.findall(part.digits):
        verb = "DIGITS" if run.isdigit() else "ALPHA"
        reply = await command("SAY", verb, run, Quoted(escape))
        if reply.key:
            return reply.key
    return ""
