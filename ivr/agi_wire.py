"""FastAGI wire format, pure: the ``agi_*`` block, reply lines and argument quoting.

Strings in, values out, so every rule table-tests (tests/ivr/test_ivr_agi.py). Sources:
res_agi.c ``setup_env`` (block), the ``ast_agi_send`` formats (replies), ``parse_args`` (quoting).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from pii import mask_text

# Asterisk sends the characters it collected, so GET DATA may return '*' (and A-D) in the result;
# the plain ``-?\d*`` would reject a resident ID ending in '*' (= X).
REPLY_RE = re.compile(r"^200 result=(-?[0-9*#A-D]*)(?: \(([^)]*)\))?(?: endpos=(\d+))?$")
USAGE_END = "520 End of proper usage."
HANGUP_LINE = "HANGUP"
_NEEDS_QUOTES = re.compile(r'[\s"\\]')


class AgiError(Exception):
    """The peer sent something that is not FastAGI; the call is closed."""


def _excerpt(text: str) -> str:
    """A short, log-safe excerpt of peer input: digit runs (IDs, phones) keep their last 4."""
    return repr(mask_text(text[:60], shortest=5))  # a partial ID typed is not shown either


@dataclass(frozen=True, slots=True)
class AgiEnv:
    """The ``agi_*`` block Asterisk sends first. ``callerid`` is None when withheld."""

    vars: dict[str, str]
    script: str  # the menu name: agi_network_script without any ?query
    params: dict[str, str]  # the ?query of agi_network_script, e.g. {"lang": "en"}
    callerid: str | None
    language: str
    channel: str
    uniqueid: str

    @property
    def args(self) -> list[str]:
        """Dialplan arguments after the URL (``agi_arg_1`` …)."""
        out: list[str] = []
        while f"agi_arg_{len(out) + 1}" in self.vars:
            out.append(self.vars[f"agi_arg_{len(out) + 1}"])
        return out


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply: ``code`` 200 with ``result``/``data``/``endpos``, or 510/511/520 with ``text``."""

    code: int
    result: str = ""
    data: str | None = None  # the parenthesised part, e.g. "timeout"
    endpos: int | None = None
    text: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def failed(self) -> bool:
        """``result=-1``: the caller hung up or the media (e.g. a prompt file) failed."""
        return self.code == 200 and self.result == "-1"

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"

    @property
    def key(self) -> str | None:
        """The digit that interrupted STREAM FILE / SAY DIGITS (``result`` is its ASCII code)."""
        if self.code != 200 or not self.result or self.result.startswith("-"):
            return None
        if not self.result.isdigit() or int(self.result) == 0:
            return None
        return chr(int(self.result))


def parse_env(lines: Iterable[str]) -> AgiEnv:
    """Parse ``key: value`` lines (without the blank terminator). Raises AgiError if malformed."""
    env: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            # Asterisk writes "agi_accountcode: " with a trailing space; a bare "key:" is tolerated
            if line.endswith(":") and line[:-1].strip():
                key, value = line[:-1], ""
            else:
                raise AgiError(f"bad environment line {_excerpt(line)}")
        key = key.strip().lower()
        if not key.startswith("agi_"):
            raise AgiError(f"bad environment key {_excerpt(key)}")
        env[key] = value
    if not env:
        raise AgiError("empty environment")
    callerid = env.get("agi_callerid", "unknown").strip()
    script, _, query = env.get("agi_network_script", "").partition("?")
    return AgiEnv(
        vars=env,
        script=script.strip("/"),
        params=dict(parse_qsl(query)),
        callerid=None if callerid.lower() in ("", "unknown") else callerid,
        language=env.get("agi_language", ""),
        channel=env.get("agi_channel", ""),
        uniqueid=env.get("agi_uniqueid", ""),
    )


_SEEN: dict[str, AgiReply] = {}  # frequent short replies ("200 result=0", …), parsed once
_SEEN_MAX = 512


def parse_reply(line: str) -> AgiReply:
    """Parse one single-line reply. Raises AgiError for anything else (incl. ``520-`` starts).

    Most replies of a call are the same few lines; those with a short result (a key, not
    an ID or a phone number, which are never kept) are remembered (AgiReply is immutable)."""
    reply = _SEEN.get(line)
    if reply is None:
        reply = _parse_reply(line)
        short = len(reply.result) <= 2 and (reply.data is None or len(reply.data) <= 6)
        if short and len(_SEEN) < _SEEN_MAX:
            _SEEN[line] = reply
    return reply


def _parse_reply(line: str) -> AgiReply:
    if line.startswith("200 "):
        m = REPLY_RE.match(line)
        if m is None:
            raise AgiError(f"bad 200 reply {_excerpt(line)}")
        endpos = int(m.group(3)) if m.group(3) is not None else None
        return AgiReply(200, m.group(1), m.group(2), endpos)
    for code in (510, 511, 520):
        if line.startswith(f"{code} "):
            return AgiReply(code, text=line[4:])
    raise AgiError(f"bad reply {_excerpt(line)}")


class Quoted(str):
    """An argument always written in double quotes (escape digits, by convention)."""


def quote(arg: str) -> str:
    """Quote one argument so Asterisk's ``parse_args`` gives it back unchanged."""
    if "\n" in arg or "\r" in arg:
        raise ValueError("AGI arguments cannot contain line breaks")
    if arg and not isinstance(arg, Quoted) and not _NEEDS_QUOTES.search(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(*words: str) -> str:
    """``format_command("STREAM", "FILE", "x", "")`` → ``STREAM FILE x ""``."""
    return " ".join(quote(w) for w in words)
