"""The Asterisk simulator itself: reply lines, dead mode, type-ahead, pipelining aborts."""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ivr.simulator import HANGUP, SILENCE, AsteriskSimulator, CallerStep, TypeAhead
from ivr.simulator_rules import env_lines


def sim_with(*script: CallerStep, **kw: object) -> tuple[AsteriskSimulator, StringTransport, Clock]:
    clock = Clock()
    sim = AsteriskSimulator(clock, script, **kw)  # type: ignore[arg-type]
    transport = StringTransport()
    sim.makeConnection(transport)
    transport.clear()  # the env block
    return sim, transport, clock


def ask(sim: AsteriskSimulator, transport: StringTransport, clock: Clock, line: str) -> list[str]:
    transport.clear()
    sim.dataReceived(line.encode() + b"\n")
    clock.advance(0)
    return transport.value().decode().splitlines()


def test_env_block_is_written_first() -> None:
    clock = Clock()
    sim = AsteriskSimulator(clock, menu="booking", port=4573)
    transport = StringTransport()
    sim.makeConnection(transport)
    assert transport.value().decode() == "\n".join(env_lines(script="booking")) + "\n"


def test_reply_lines() -> None:
    sim, t, c = sim_with("12", SILENCE, TypeAhead("7"), "123456#9", missing_files={"gone"})
    assert ask(sim, t, c, "ANSWER") == ["200 result=0"]
    assert ask(sim, t, c, "answer") == ["200 result=0"]  # case-insensitive
    assert ask(sim, t, c, 'STREAM FILE p "0123456789"') == ["200 result=0 endpos=16000"]
    assert ask(sim, t, c, "GET DATA p 5000 4") == ["200 result=12 (timeout)"]
    assert ask(sim, t, c, "GET DATA p 5000 4") == ["200 result= (timeout)"]
    assert ask(sim, t, c, 'STREAM FILE p "0123456789"') == ["200 result=55 endpos=0"]
    assert ask(sim, t, c, "GET DATA p 5000 3") == ["200 result=123"]  # max reached
    assert ask(sim, t, c, "GET DATA p 5000 9") == ["200 result=456"]  # '#' ends, 9 stays
    assert ask(sim, t, c, 'SAY DIGITS 0123456789 "9"') == ["200 result=57"]  # typed-ahead 9
    assert ask(sim, t, c, 'STREAM FILE gone ""') == ["200 result=-1 endpos=0"]
    assert ask(sim, t, c, "GET DATA gone") == ["200 result=-1"]
    assert ask(sim, t, c, "NOOP") == ["200 result=0"]
    assert ask(sim, t, c, 'VERBOSE "hello there" 1') == ["200 result=1"]
    assert ask(sim, t, c, 'SET VARIABLE X "a b"') == ["200 result=1"]
    assert sim.variables == {"X": "a b"}
    assert ask(sim, t, c, "ANSWER\r") == ["510 Invalid or unknown command"]
    assert ask(sim, t, c, "FOO BAR") == ["510 Invalid or unknown command"]
    usage = ask(sim, t, c, "STREAM FILE onlyone")
    assert usage[0] == "520-Invalid command syntax.  Proper usage follows:"
    assert usage[-1] == "520 End of proper usage." and len(usage) > 2
    assert ask(sim, t, c, 'SAY DIGITS abc ""')[-1] == "520 End of proper usage."
    assert ask(sim, t, c, 'STREAM FILE p "" x')[-1] == "520 End of proper usage."
    assert ask(sim, t, c, 'STREAM FILE gone "" 800') == ["200 result=-1 endpos=800"]
    assert sim.said_digits == ["0123456789"]


def test_caller_hangup_then_dead_mode() -> None:
    sim, t, c = sim_with(HANGUP)
    assert ask(sim, t, c, 'STREAM FILE p ""') == ["200 result=-1 endpos=4000", "HANGUP"]
    assert ask(sim, t, c, "GET DATA p") == [
        "511 Command Not Permitted on a dead channel or intercept routine"
    ]
    assert ask(sim, t, c, "NOOP") == ["200 result=0"]  # dead-OK
    assert sim.events("hangup") == ["caller"]


def test_server_hangup() -> None:
    sim, t, c = sim_with()
    assert ask(sim, t, c, "HANGUP") == ["200 result=1", "HANGUP"]
    assert ask(sim, t, c, "ANSWER")[0].startswith("511 ")


def test_pipelined_command_aborts_the_running_one_without_reply() -> None:
    sim, t, c = sim_with("1")
    t.clear()
    sim.dataReceived(b"GET DATA p 5000 1\nNOOP\n")
    c.advance(0)
    assert t.value() == b"200 result=0\n"  # only NOOP answered, like Asterisk
    assert sim.events("aborted") == ["GET DATA p 5000 1"]


def test_server_close_is_recorded_and_fires_done() -> None:
    sim, _, _ = sim_with()
    got: list[object] = []
    sim.done.addCallback(got.append)
    sim.connectionLost(None)
    assert got == [sim] and sim.transcript[-1] == ("closed", "")


def test_format_transcript() -> None:
    sim, t, c = sim_with("1")
    ask(sim, t, c, "GET DATA p 5000 1")
    assert sim.format_transcript().splitlines() == [
        ">> GET DATA p 5000 1",
        "-- play p",
        "-- key 1",
        "<< 200 result=1",
    ]
