"""The call as one explicit state machine, per-command reply deadlines and the call record.

Pure data and functions (no Twisted) so the machine and the deadlines table-test. The machine is
``MOVES``: (state, event) → next state, where an event is what just happened to the call
(``CallEvent``); ``advance`` is its transition function. ``ivr.call.Call``, ``ivr.render`` and
``ivr.channel`` only report events; an event the current state does not list is a bug
(``IllegalTransition``), logged and the call closed. The diagram is in docs/ivr.md ("The call as
a state machine").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pii import mask_text


class CallState(StrEnum):
    CONNECTED = "connected"  # environment read, no menu yet
    STARTING = "starting"  # Dialogue.begin runs (may run effects)
    PLAYING = "playing"  # STREAM FILE / SAY DIGITS of an output, one at a time
    COLLECTING = "collecting"  # GET DATA in flight: the caller is keying
    THINKING = "thinking"  # Dialogue.resume runs (booking effects, channel effects)
    TRANSFERRING = "transferring"  # EXEC Dial in flight (a channel.transfer effect)
    FINISHING = "finishing"  # the final output was played; HANGUP sent
    RELEASING = "releasing"  # caller gone or media failed: HangUp() fed to the dialogue
    CLOSED = "closed"


class CallEvent(StrEnum):
    BEGIN = "begin"  # the menu is asked for its first output
    OUTPUT = "output"  # the menu answered: play it
    COLLECT = "collect"  # GET DATA or Read sent: the caller may key
    INPUT = "input"  # the caller's input (or its absence) goes to the menu
    TRANSFER = "transfer"  # a channel.transfer effect dials an operator
    TRANSFERRED = "transferred"  # the Dial returned: back to where the effect was asked
    FINAL = "final"  # the final output was played: HANGUP
    GONE = "gone"  # caller hung up, media failed or the engine broke: release the menu
    CLOSE = "close"  # the connection is closed


S, E = CallState, CallEvent
_OPEN = tuple(state for state in CallState if state is not S.CLOSED)
# The whole machine but TRANSFERRED, which returns to the state TRANSFER left (``Phase``).
MOVES: dict[tuple[CallState, CallEvent], CallState] = {
    (S.CONNECTED, E.BEGIN): S.STARTING,
    (S.STARTING, E.OUTPUT): S.PLAYING,
    (S.THINKING, E.OUTPUT): S.PLAYING,
    (S.PLAYING, E.COLLECT): S.COLLECTING,
    (S.COLLECTING, E.COLLECT): S.COLLECTING,  # no Read app: the prompts one by one, GET DATA
    (S.PLAYING, E.INPUT): S.THINKING,  # a key pressed during a prompt, or nothing to collect
    (S.COLLECTING, E.INPUT): S.THINKING,
    (S.STARTING, E.TRANSFER): S.TRANSFERRING,  # a menu may transfer from its first node
    (S.THINKING, E.TRANSFER): S.TRANSFERRING,
    (S.PLAYING, E.FINAL): S.FINISHING,
    **{(state, E.GONE): S.RELEASING for state in _OPEN},  # FINISHING: the socket died under HANGUP
    **{(state, E.CLOSE): S.CLOSED for state in _OPEN},
}
RETURNS = frozenset({S.STARTING, S.THINKING})  # where TRANSFERRED may go back to


@dataclass(frozen=True, slots=True)
class Phase:
    """Where a call is: its state, and while transferring the state the transfer was asked in."""

    state: CallState = S.CONNECTED
    transfer_from: CallState | None = None


def advance(phase: Phase, event: CallEvent) -> Phase:
    """The phase after ``event``; IllegalTransition when the state does not take it."""
    if event is E.TRANSFERRED:
        back = phase.transfer_from
        if phase.state is not S.TRANSFERRING or back not in RETURNS:
            raise IllegalTransition(f"{phase.state} --{event}-->")
        return Phase(back)  # type: ignore[arg-type]
    new = MOVES.get((phase.state, event))
    if new is None:
        raise IllegalTransition(f"{phase.state} --{event}-->")
    if new is phase.state:
        return phase
    return Phase(new, phase.state if event is E.TRANSFER else None)


def _graph() -> dict[CallState, frozenset[CallState]]:
    nexts: dict[CallState, set[CallState]] = {state: set() for state in CallState}
    for (old, _event), new in MOVES.items():
        nexts[old].add(new)
    nexts[S.TRANSFERRING] |= RETURNS
    return {state: frozenset(n - {state}) for state, n in nexts.items()}


# Which states may follow which (self-moves left out): the diagram in docs/ivr.md.
TRANSITIONS: dict[CallState, frozenset[CallState]] = _graph()


class Ended(Exception):
    """The call cannot go on; ``hung_up`` tells a caller hang-up from a media failure."""

    def __init__(self, why: str, *, hung_up: bool, result: str | None = None) -> None:
        super().__init__(why)
        self.hung_up = hung_up
        self.result = result or ("hangup" if hung_up else "media_failure")


class IllegalTransition(RuntimeError):
    """A move the machine does not allow: a bug in the call driver, never caller input."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """How long to wait for each command's reply before calling the call out of step.

    A reply that never comes means Asterisk lost the command or the replies are out of step;
    either way the call is closed (and the menu released) rather than hanging forever.
    """

    control_s: float = 10.0  # ANSWER, HANGUP, SET/GET VARIABLE, VERBOSE, NOOP: answered at once
    prompt_s: float = 60.0  # the longest prompt we ever play
    per_digit_s: float = 1.5  # SAY DIGITS / SAY ALPHA: one digit file each
    dial_s: float = 4 * 3600.0  # EXEC Dial returns when the bridged call ends
    margin_s: float = 5.0

    def for_command(self, words: tuple[str, ...]) -> float:
        verb = " ".join(words[:2]).upper()
        if verb == "STREAM FILE":
            return self.prompt_s + self.margin_s
        if verb in ("SAY DIGITS", "SAY ALPHA"):
            return self.per_digit_s * len(words[2] if len(words) > 2 else "") + self.margin_s
        if verb == "GET DATA":
            timeout_s = int(words[3]) / 1000 if len(words) > 3 else 6.0
            digits = int(words[4]) if len(words) > 4 else 1
            return self.prompt_s + timeout_s * (digits + 1) + self.margin_s
        if words and words[0].upper() == "EXEC" and len(words) > 1 and words[1] == "Dial":
            return self.dial_s
        if words and words[0].upper() == "EXEC" and len(words) > 2 and words[1] == "Playback":
            return self.prompt_s * len(words[2].split("&")) + self.margin_s
        if words and words[0].upper() == "EXEC" and len(words) > 2 and words[1] == "Read":
            # Read(var,p1&p2&…,max,opts,attempts,timeout_s): every prompt, then the keying
            _var, files, max_digits, _o, _a, timeout = (words[2].split(",") + [""] * 6)[:6]
            digits = int(max_digits) if max_digits.isdigit() else 255
            wait_s = float(timeout) if timeout else 6.0
            prompts = self.prompt_s * len(files.split("&"))
            return prompts + wait_s * (digits + 1) + self.margin_s
        return self.control_s


@dataclass
class CallRecord:
    """One line per call for operations: where the caller went, what failed, how it ended."""

    call: str
    menu: str
    caller_tail: str  # last 4 digits, or "withheld"
    started: float
    path: list[str] = field(default_factory=list)  # node ids in the order they were shown
    end_node: str | None = None  # where a completed call ended (e.g. done, duplicate)
    inputs: int = 0
    timeouts: int = 0  # NoInput fed to the menu
    invalid: int = 0  # input that left the caller on the same question
    failures: list[str] = field(default_factory=list)  # media/protocol failures (masked)
    hangup_at: str | None = None  # "<state>:<node>" where the caller hung up
    result: str = "open"  # completed | hangup | media_failure | timeout | error | transferred
    transfer: str | None = None  # the channel.transfer outcome, if any
    duration_s: float = 0.0

    def visit(self, node: str) -> None:
        if not self.path or self.path[-1] != node:
            self.path.append(node)

    def fields(self) -> dict[str, Any]:
        """The record as log fields; nothing in it can carry a full ID or phone number."""
        return {
            "call": self.call,
            "menu": self.menu,
            "caller_tail": self.caller_tail,
            "path": ">".join(self.path),
            "inputs": self.inputs,
            "timeouts": self.timeouts,
            "invalid": self.invalid,
            "failures": [mask_text(f, shortest=5) for f in self.failures],
            "hangup_at": self.hangup_at,
            "end_node": self.end_node,
            "result": self.result,
            "transfer": self.transfer,
            "duration_s": round(self.duration_s, 3),
        }
