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

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable

from ivr.agi import AgiReply, Quoted
from ivr.states import CallState, Ended
from menus.types import Digits, Input, NoInput, Output, Say, SayDigits, Wait

BARGE_IN = "0123456789*"  # keys that stop a prompt; '#' only ends GET DATA
SILENCE = "silence/1"  # a stock Asterisk file: GET DATA needs a file to play
_RUNS = re.compile(r"[0-9]+|[A-Za-z]+")
BATCH_MIN = 3  # a tail of this many barge-in prompts is played by one EXEC Read
READ_VAR = "HOTLINE_KEYS"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")  # nothing Read's argument parser would split

Command = Callable[..., Awaitable[AgiReply]]


def prompt_name(part: Say, lang: str) -> str:
    """The sound file for a Say: its ``prompt``, else ``hotline/<lang>/<sha1(text)[:12]>``."""
    if part.prompt:
        return part.prompt
    return f"hotline/{lang}/{_digest(part.text)}"


@functools.lru_cache(maxsize=4096)
def _digest(text: str) -> str:
    """The file name part for ``text``; cached, as a call hashes every sentence it plays."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def bargein(part: Say | SayDigits) -> bool:
    """May a key stop this part? ``Say.bargein`` when the menu sets it, else yes."""
    return bool(getattr(part, "bargein", True))


def batch_tail(parts: list[Say | SayDigits], lang: str) -> list[str]:
    """Prompt names of the trailing run of barge-in ``Say`` parts (for one ``EXEC Read``)."""
    names: list[str] = []
    for part in reversed(parts):
        if not isinstance(part, Say) or not bargein(part):
            break
        name = prompt_name(part, lang)
        if not _SAFE_NAME.match(name):
            break
        names.append(name)
    return names[::-1]


async def render_output(
    command: Command,
    output: Output,
    lang: str,
    to_state: Callable[[CallState], None],
    *,
    batch: bool = True,
) -> Input:
    """Play ``output``; if it waits, collect and return the caller's input (else NoInput).

    ``batch``: a question with its options (≥ ``BATCH_MIN`` prompts at the end) is played and
    collected by ``EXEC Read <var>,<p1&p2&…>,<max>,,1,<timeout>`` and one
    ``GET FULL VARIABLE ${READSTATUS},${<var>}``: 2 round trips instead of one per option.
    Read skips a missing file silently (Asterisk logs it), so ``hotline prompts build`` and
    ``menus check`` are what catch those.
    """
    wait = output.wait
    head = list(output.parts)
    tail = batch_tail(head, lang) if batch and wait is not None else []
    tail = tail if len(tail) >= BATCH_MIN else []
    head = head[: len(head) - len(tail)]
    last_prompt = None
    last = head[-1] if head else None
    if not tail and wait is not None and isinstance(last, Say) and bargein(last):
        last_prompt = prompt_name(head.pop(), lang)  # GET DATA plays it
    first = ""
    for part in head:
        first = await _play(command, part, lang, BARGE_IN if wait and bargein(part) else "")
        if first:
            break
    if wait is None:
        return NoInput()
    if tail and not first:
        got = await _read(command, tail, wait, to_state)
        if got is not None:
            return got
        for name in tail[:-1]:  # no Read application in this Asterisk: one by one
            first = await _stream(command, name, BARGE_IN)
            if first:
                break
        last_prompt = tail[-1]
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
        return await _stream(command, prompt_name(part, lang), escape)
    for run in _RUNS.findall(part.digits):
        verb = "DIGITS" if run.isdigit() else "ALPHA"
        reply = await command("SAY", verb, run, Quoted(escape))
        if reply.key:
            return reply.key
    return ""


async def _stream(command: Command, name: str, escape: str) -> str:
    reply = await command("STREAM", "FILE", name, Quoted(escape), missing_ok=True)
    return reply.key or ""


async def _read(
    command: Command, names: list[str], wait: Wait, to_state: Callable[[CallState], None]
) -> Input | None:
    """Play ``names`` and collect keys with app_read; None when Asterisk has no Read app."""
    to_state(CallState.COLLECTING)
    args = f"{READ_VAR},{'&'.join(names)},{wait.max_digits},,1,{wait.first_timeout_s:g}"
    reply = await command("EXEC", "Read", args)
    if reply.result == "-2":
        return None
    status = await command("GET", "FULL", "VARIABLE", f"${{READSTATUS}},${{{READ_VAR}}}")
    outcome, _, digits = (status.data or "").partition(",")
    if outcome == "HANGUP" or reply.failed:
        raise Ended("caller hung up during Read", hung_up=True)
    return Digits(digits) if digits else NoInput()
