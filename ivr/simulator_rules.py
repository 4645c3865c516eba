"""Pure rules of the Asterisk side, kept apart from the simulator protocol so they table-test.

Sources: res_agi.c ``launch_netscript``/``setup_env`` (environment order), ``parse_args``
(tokenizer), ``find_command`` and the ``handle_*`` argument checks (510/520), ``commands[]``
(which commands still run on a dead channel).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_ARGS = 128
SAMPLES_PER_PROMPT = 16000  # every simulated prompt lasts 2 s at 8 kHz

# command name -> (min argc, max argc, usage lines)
COMMANDS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "answer": (1, 1, (" Usage: ANSWER", "Answers channel if not already in answer state.")),
    "hangup": (1, 2, (" Usage: HANGUP [<channelname>]", "Hangs up the specified channel.")),
    "stream file": (
        4,
        5,
        (
            " Usage: STREAM FILE <filename> <escape_digits> [sample offset]",
            "Send the given file, allowing playback to be interrupted by the given digits.",
        ),
    ),
    "get data": (
        3,
        5,
        (
            " Usage: GET DATA <file to be streamed> [timeout] [max digits]",
            "Stream the given file, and receive DTMF data.",
        ),
    ),
    "say digits": (
        4,
        4,
        (" Usage: SAY DIGITS <number> <escape_digits>", "Say a given digit string."),
    ),
    "say alpha": (4, 4, (" Usage: SAY ALPHA <number> <escape_digits>", "Say a character string.")),
    "wait for digit": (
        4,
        4,
        (" Usage: WAIT FOR DIGIT <timeout>", "Waits for a digit to be pressed."),
    ),
    "noop": (1, MAX_ARGS, (" Usage: NOOP", "Does nothing.")),
    "verbose": (2, 3, (" Usage: VERBOSE <message> <level>", "Logs a message to the console.")),
    "set variable": (4, 4, (" Usage: SET VARIABLE <variablename> <value>", "Sets a variable.")),
    "exec": (2, MAX_ARGS, (" Usage: EXEC <application> <options>", "Executes an application.")),
    "get variable": (3, 3, (" Usage: GET VARIABLE <variablename>", "Gets a channel variable.")),
    "get full variable": (
        4,
        5,
        (" Usage: GET FULL VARIABLE <expression> [<channelname>]", "Evaluates an expression."),
    ),
    "channel status": (
        2,
        3,
        (" Usage: CHANNEL STATUS [<channelname>]", "Returns status of the connected channel."),
    ),
}
MEDIA = frozenset({"stream file", "get data", "say digits", "say alpha", "wait for digit"})
DEAD_OK = frozenset(
    {"exec", "get full variable", "get variable", "noop", "set variable", "verbose"}
)
_VAR = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def expand(expression: str, variables: dict[str, str]) -> str:
    """``${NAME}`` substitution as GET FULL VARIABLE does (no functions or expressions)."""
    return _VAR.sub(lambda m: variables.get(m.group(1), ""), expression)


PROMPT_S = SAMPLES_PER_PROMPT / 8000
DIGIT_S = 0.5  # one SAY DIGITS digit file

# A key press and the seconds since the previous press (or since listening started).
Press = tuple[str, float]
_INT = re.compile(r"^\s*[+-]?\d")  # what sscanf("%d") accepts at the start


def env_lines(
    *,
    script: str,
    host: str = "127.0.0.1",
    port: int = 4573,
    callerid: str | None = "13800138000",
    language: str = "zh",
    uniqueid: str = "1764100000.1",
    args: Sequence[str] = (),
    dnid: str = "12580",
) -> list[str]:
    """The ``agi_*`` block in Asterisk's order, ending with the blank line; ``dnid``: the
    number dialed (also the dialplan extension, as a plain ``exten => 1258001,…`` has it)."""
    lines = ["agi_network: yes"]
    if script:
        lines.append(f"agi_network_script: {script}")
    pairs = [
        ("request", f"agi://{host}:{port}/{script}"),
        ("channel", "SIP/carrier-00000001"),
        ("language", language),
        ("type", "SIP"),
        ("uniqueid", uniqueid),
        ("version", "20.5.0"),
        ("callerid", callerid or "unknown"),
        ("calleridname", "unknown"),
        ("callingpres", "0"),
        ("callingani2", "0"),
        ("callington", "0"),
        ("callingtns", "0"),
        ("dnid", dnid),
        ("rdnis", "unknown"),
        ("context", "hotline"),
        ("extension", dnid),
        ("priority", "2"),
        ("enhanced", "0.0"),
        ("accountcode", ""),
        ("threadid", "140245711701568"),
    ]
    lines += [f"agi_{key}: {value}" for key, value in pairs]
    lines += [f"agi_arg_{i}: {arg}" for i, arg in enumerate(args, start=1)]
    lines.append("")
    return lines


def tokenize(line: str) -> list[str]:
    """Split a command like res_agi.c ``parse_args``: only space/tab separate, ``"`` groups,
    ``\\`` escapes the next character, ``""`` is an empty argument; at most 128 arguments."""
    argv: list[str] = []
    current: list[str] = []
    in_token = quoted = escaped = False
    for ch in line:
        if escaped:
            current.append(ch)
            in_token, escaped = True, False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            in_token = True
        elif ch in " \t" and not quoted:
            if in_token:
                argv.append("".join(current))
                current, in_token = [], False
        else:
            current.append(ch)
            in_token = True
    if in_token:
        argv.append("".join(current))
    return argv[:MAX_ARGS]


def find_command(argv: Sequence[str]) -> str | None:
    """The longest known command whose words (case-insensitive) start ``argv``."""
    words = [w.lower() for w in argv]
    best = None
    for name in COMMANDS:
        parts = name.split(" ")
        if words[: len(parts)] == parts and (best is None or len(parts) > len(best.split(" "))):
            best = name
    return best


def bad_syntax(name: str, argv: Sequence[str]) -> bool:
    """True when the handler would return RESULT_SHOWUSAGE (→ 520)."""
    low, high, _ = COMMANDS[name]
    if not low <= len(argv) <= high:
        return True
    if name == "say digits":
        return not _INT.match(argv[2])
    return name == "stream file" and len(argv) == 5 and not _INT.match(argv[4])  # %ld offset


def usage_reply(name: str) -> list[str]:
    """The multi-line 520 reply for ``name``."""
    return [
        "520-Invalid command syntax.  Proper usage follows:",
        *COMMANDS[name][2],
        "520 End of proper usage.",
    ]


def limits(timeout_ms: int) -> tuple[float, float]:
    """GET DATA's (first-digit, inter-digit) timeouts: 0/absent → 6 s / 2 s; <0 → no limit."""
    if timeout_ms > 0:
        return timeout_ms / 1000, timeout_ms / 1000
    if timeout_ms == 0:
        return 6.0, 2.0
    return float("inf"), float("inf")


def collect(
    presses: Sequence[Press], max_digits: int, timeout_ms: int
) -> tuple[str, str, float, list[Press]]:
    """GET DATA after the prompt: (digits, end, seconds waited, presses not yet made).

    ``end`` is ``max`` (fixed length reached), ``#`` (terminator, not returned) or ``timeout``
    (first-digit or inter-digit timeout; later presses stay for the next command).
    """
    first, inter = limits(timeout_ms)
    digits, waited = "", 0.0
    for i, (key, delay) in enumerate(presses):
        limit = inter if digits else first
        if delay > limit:
            return digits, "timeout", waited + limit, [(key, delay - limit), *presses[i + 1 :]]
        waited += delay
        if key == "#":
            return digits, "#", waited, list(presses[i + 1 :])
        digits += key
        if len(digits) >= max_digits:
            return digits, "max", waited, list(presses[i + 1 :])
    limit = inter if digits else first
    return digits, "timeout", waited + (0.0 if limit == float("inf") else limit), []


def during_playback(
    presses: Sequence[Press], escape: str, duration: float
) -> tuple[str, float, list[Press]]:
    """Keys pressed while a prompt of ``duration`` s plays: the first escape digit stops it
    (``key``, when); other keys are swallowed; presses after the end stay pending."""
    elapsed = 0.0
    for i, (key, delay) in enumerate(presses):
        if elapsed + delay > duration:
            return "", duration, [(key, elapsed + delay - duration), *presses[i + 1 :]]
        elapsed += delay
        if key in escape:
            return key, elapsed, list(presses[i + 1 :])
    return "", duration, []
