"""Voice rendering of one menu ``Output``: prompts, digit read-back, barge-in, input collection.

Rules (docs/ivr.md "What the server sends"):
  * every ``Say`` is one or more sound files: a static sentence is one file, a sentence with
    call data the pieces ``ivr.compose`` splits it into (a list of dates says each month once
    per change: ``ivr.compose.heard``);
  * a file is a prompt (``STREAM FILE``) that a key interrupts (barge-in) unless the part opts
    out (``bargein=False``, for legal notices: keys pressed during it are dropped);
  * a run of several files that nobody can interrupt (or that precede a code) goes out as one
    ``EXEC Playback a&b&c``; the files of a question and its options as one ``EXEC Read``;
  * the last file of an output that waits is otherwise played by ``GET DATA`` itself;
  * ``SayDigits`` (T-codes, phone and ID numbers) is read digit by digit (``SAY DIGITS``; letters,
    e.g. an ID's X, by ``SAY ALPHA``);
  * a barge-in key counts as the first digit; a 1-digit wait is then complete; ``*`` ends the
    entry at once unless the wait takes it as an ID's X, or starts a code (``Wait.star_digits``:
    a ``*`` as the first key, however it came, is followed by a ``GET DATA`` for the code);
  * ``GET DATA`` ends by itself at ``max_digits`` (fixed length) or on ``#`` (variable length);
  * a missing prompt file is skipped with a warning (GET DATA then listens after silence/1);
    only a missing silence/1 or a dead channel ends the call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ivr.agi import AgiReply, Quoted
from ivr.compose import Lexicon, Live, compose, heard, prompt_name, word_lexicon
from ivr.states import CallEvent, Ended
from menus.types import Digits, Input, NoInput, Output, Say, SayDigits, Slot, Wait

__all__ = ["BARGE_IN", "SILENCE", "bargein", "clips", "prompt_name", "render_output"]

BARGE_IN = "0123456789*"  # keys that stop a prompt; '#' only ends GET DATA
SILENCE = "silence/1"  # a stock Asterisk file: GET DATA needs a file to play
_RUNS = re.compile(r"[0-9]+|[A-Za-z]+")
MEMO_SIZE = 2048  # outputs remembered per lexicon (clips)
BATCH_MIN = 3  # a tail of this many barge-in files is played by one EXEC Read
READ_VAR = "HOTLINE_KEYS"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_./-]+$")  # nothing Read's argument parser would split

Command = Callable[..., Awaitable[AgiReply]]


@dataclass(frozen=True, slots=True)
class Clip:
    """One thing to play: a sound file, or (``digits``) a code for ``SAY DIGITS``."""

    name: str
    bargein: bool
    digits: str | None = None
    batchable: bool = False  # a file EXEC Read/Playback can take in a list (``clip``)


def clip(name: str, bargein: bool) -> Clip:
    """A sound file; whether it may go in a ``&`` list is worked out once, here, as the clips
    of an output are remembered (``clips``) and looked at on every call."""
    return Clip(name, bargein, None, bool(_SAFE_NAME.match(name)))


def bargein(part: Say | SayDigits) -> bool:
    """May a key stop this part? ``Say.bargein`` when the menu sets it, else yes."""
    return bool(getattr(part, "bargein", True))


def clips(
    parts: tuple[Say | SayDigits, ...],
    lang: str,
    lex: Lexicon | None = None,
    live: Live | None = None,
) -> list[Clip]:
    """What the parts play, in order: the files of each Say's pieces (as heard: ``heard``),
    each SayDigits whole.

    Remembered per lexicon (``Known.memo``, the last ``MEMO_SIZE`` outputs): callers hear the
    same menus and lists over and over, and splitting them is most of what a voice output
    costs. Not when live speech is on and a part has free text (``live`` remembers each text
    it is asked for), nor for a lexicon that is a plain mapping."""
    known = lex if lex is not None else word_lexicon(lang)
    memo = getattr(known, "memo", None)
    if memo is None or (live is not None and _has_free_text(parts)):
        return _clips(parts, lang, known, live)
    # Say equality leaves its slots out: they are part of the key
    key = (lang, parts, tuple([getattr(part, "slots", None) for part in parts]))
    found = memo.get(key)
    if found is None:
        found = memo[key] = tuple(_clips(parts, lang, known, live))
        if len(memo) > MEMO_SIZE:
            memo.popitem(last=False)
    else:
        memo.move_to_end(key)
    return list(found)


def _has_free_text(parts: tuple[Say | SayDigits, ...]) -> bool:
    return any(
        isinstance(slot, Slot) and slot.filter == "speak"
        for part in parts
        for slot in getattr(part, "slots", ())
    )


def _clips(
    parts: tuple[Say | SayDigits, ...], lang: str, lex: Lexicon, live: Live | None
) -> list[Clip]:
    out: list[Clip] = []
    for part in heard(parts, lang):
        if isinstance(part, SayDigits):
            out.append(Clip("", True, part.digits))
            continue
        keys = bargein(part)
        out += [clip(piece.name, keys) for piece in compose(part, lang, lex, live)]
    return out


def _remote(clip: Clip) -> bool:
    """A URL (live speech): only ``EXEC Playback`` fetches it through Asterisk's media cache."""
    return clip.name.startswith(("http://", "https://"))


async def render_output(
    command: Command,
    output: Output,
    lang: str,
    fire: Callable[[CallEvent], None],
    *,
    batch: bool = True,
    lexicon: Lexicon | None = None,
    live: Live | None = None,
) -> Input:
    """Play ``output``; if it waits, collect and return the caller's input (else NoInput).

    ``batch``: a question with its options (≥ ``BATCH_MIN`` files at the end) is played and
    collected by ``EXEC Read <var>,<p1&p2&…>,<max>,,1,<timeout>`` and one
    ``GET FULL VARIABLE ${READSTATUS},${<var>}``: 2 round trips instead of one per file; other
    runs of files by one ``EXEC Playback``. Read and Playback skip a missing file silently
    (Asterisk logs it), so ``hotline prompts build`` and ``menus check --prompts`` are what
    catch those.
    """
    wait = output.wait
    head = clips(output.parts, lang, lexicon, live)
    tail: list[Clip] = []
    if batch and wait is not None:
        cut = len(head)
        while cut and head[cut - 1].bargein and head[cut - 1].batchable:
            cut -= 1
        if len(head) - cut >= BATCH_MIN:
            head, tail = head[:cut], head[cut:]
    last_prompt = None
    last = head[-1] if head else None
    if (
        not tail
        and wait is not None
        and last
        and last.bargein
        and last.digits is None
        and (not _remote(last))
    ):
        last_prompt = head.pop().name  # GET DATA plays it
    first = await _play_head(command, head, wait is not None, batch)
    if wait is None:
        return NoInput()
    if tail and not first:
        names = [c.name for c in tail]
        got = await _read(command, names, wait, fire)
        if got is not None:
            return await _code_after_star(command, got, wait)
        for name in names[:-1]:  # no Read application in this Asterisk: one by one
            first = await _stream(command, name, BARGE_IN)
            if first:
                break
        last_prompt = names[-1]
    if first == "*" and wait.star_digits:
        return await _code_after_star(command, Digits(first), wait)
    if first and (wait.max_digits <= 1 or (first == "*" and not wait.allow_star)):
        return Digits(first)
    if first:  # barge-in: the pressed key counts; collect the rest after it
        prompt, timeout_s, max_digits = SILENCE, wait.inter_timeout_s, wait.max_digits - 1
    else:
        prompt, timeout_s = last_prompt or SILENCE, wait.first_timeout_s
        max_digits = wait.max_digits
    fire(CallEvent.COLLECT)
    ms = str(int(timeout_s * 1000))
    reply = await command("GET", "DATA", prompt, ms, str(max_digits), missing_ok=True)
    if reply.failed:  # the prompt file is missing: listen anyway, after a moment of silence
        reply = await command("GET", "DATA", SILENCE, ms, str(max_digits))
    digits = first + reply.result
    return await _code_after_star(command, Digits(digits), wait) if digits else NoInput()


async def _code_after_star(command: Command, got: Input, wait: Wait) -> Input:
    """A lone ``*`` where the wait takes a code after it: collect the code's keys (up to
    ``star_digits`` in all, ``#`` ends early); none within the inter-digit time leave ``*``
    alone, the menu's 'back'."""
    if not (wait.star_digits and isinstance(got, Digits) and got.value == "*"):
        return got
    ms = str(int(wait.inter_timeout_s * 1000))
    reply = await command("GET", "DATA", SILENCE, ms, str(wait.star_digits - 1))
    return Digits("*" + reply.result)


async def _play_head(command: Command, head: list[Clip], waits: bool, batch: bool) -> str:
    """Play the clips before the question; return the barge-in key ('' if none).

    A run of two or more files goes out as one ``EXEC Playback`` (nobody can interrupt it, so
    it is used where keys are not taken anyway or the run is a sentence made of pieces)."""
    i = 0
    while i < len(head):
        clip = head[i]
        if clip.digits is not None:
            escape = BARGE_IN if waits and clip.bargein else ""
            key = await _say_digits(command, clip.digits, escape)
            if key:
                return key
            i += 1
            continue
        if _remote(clip):
            if not await _playback(command, [clip.name]):
                await _stream(command, clip.name, "")
            i += 1
            continue
        run = i
        while run < len(head) and head[run].batchable:
            run += 1
        if batch and run - i >= 2:
            names = [c.name for c in head[i:run]]
            if await _playback(command, names):
                i = run
                continue
        escape = BARGE_IN if waits and clip.bargein else ""
        key = await _stream(command, clip.name, escape)
        if key:
            return key
        i += 1
    return ""


async def _say_digits(command: Command, digits: str, escape: str) -> str:
    for run in _RUNS.findall(digits):
        verb = "DIGITS" if run.isdigit() else "ALPHA"
        reply = await command("SAY", verb, run, Quoted(escape))
        if reply.key:
            return reply.key
    return ""


async def _playback(command: Command, names: list[str]) -> bool:
    """``EXEC Playback a&b&c``; False when this Asterisk has no Playback (``result=-2``)."""
    reply = await command("EXEC", "Playback", "&".join(names))
    if reply.result == "-2":
        return False
    if reply.failed:
        raise Ended("caller hung up during Playback", hung_up=True)
    return True


async def _stream(command: Command, name: str, escape: str) -> str:
    reply = await command("STREAM", "FILE", name, Quoted(escape), missing_ok=True)
    return reply.key or ""


async def _read(
    command: Command, names: list[str], wait: Wait, fire: Callable[[CallEvent], None]
) -> Input | None:
    """Play ``names`` and collect keys with app_read; None when Asterisk has no Read app."""
    fire(CallEvent.COLLECT)
    args = f"{READ_VAR},{'&'.join(names)},{wait.max_digits},,1,{wait.first_timeout_s:g}"
    reply = await command("EXEC", "Read", args)
    if reply.result == "-2":
        return None
    status = await command("GET", "FULL", "VARIABLE", f"${{READSTATUS}},${{{READ_VAR}}}")
    outcome, _, digits = (status.data or "").partition(",")
    if outcome == "HANGUP" or reply.failed:
        raise Ended("caller hung up during Read", hung_up=True)
    return Digits(digits) if digits else NoInput()
