"""AgiProtocol over a StringTransport and a Clock: framing, queueing, HANGUP, timeouts."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ivr.agi import AgiEnv, AgiProtocol, AgiReply, CallEnded
from ivr.simulator_rules import env_lines, usage_reply

ENV = "".join(line + "\n" for line in env_lines(script="booking")).encode()


def connected() -> tuple[AgiProtocol, StringTransport, Clock, list[AgiEnv], list[str]]:
    clock = Clock()
    proto = AgiProtocol(clock)
    envs: list[AgiEnv] = []
    hangups: list[str] = []
    proto.on_env = envs.append
    proto.on_hangup = lambda: hangups.append("hangup")
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(ENV)
    return proto, transport, clock, envs, hangups


def results(d: Deferred[AgiReply]) -> list[object]:
    out: list[object] = []
    d.addBoth(out.append)
    return out


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, len(ENV)])
def test_env_block_in_any_chunk_size(chunk: int) -> None:
    proto = AgiProtocol(Clock())
    envs: list[AgiEnv] = []
    proto.on_env = envs.append
    proto.makeConnection(StringTransport())
    for i in range(0, len(ENV), chunk):
        proto.dataReceived(ENV[i : i + chunk])
    assert [e.script for e in envs] == ["booking"]


def test_one_command_in_flight() -> None:
    proto, transport, _, _, _ = connected()
    first = results(proto.command("ANSWER"))
    second = results(proto.command("STREAM", "FILE", "a b", ""))
    assert transport.value() == b"ANSWER\n"  # the second waits for the first reply
    transport.clear()
    proto.dataReceived(b"200 result=0\n")
    assert first == [AgiReply(200, "0")] and second == []
    assert transport.value() == b'STREAM FILE "a b" ""\n'
    proto.dataReceived(b"200 result=0 endpos=8000\n")
    assert second == [AgiReply(200, "0", endpos=8000)]


def test_multiline_520_fed_one_byte_at_a_time() -> None:
    proto, transport, _, _, _ = connected()
    got = results(proto.command("STREAM", "FILE", "x"))
    proto.command("NOOP")
    data = "".join(line + "\n" for line in usage_reply("stream file")).encode()
    for i in range(len(data)):
        assert got == []
        proto.dataReceived(data[i : i + 1])
    assert len(got) == 1 and isinstance(got[0], AgiReply) and got[0].code == 520
    assert "STREAM FILE <filename>" in got[0].text
    assert transport.value().endswith(b"NOOP\n")  # the queue moved on, in step
    assert not transport.disconnecting


def test_hangup_line_mid_command_keeps_waiting_for_its_reply() -> None:
    proto, _, _, _, hangups = connected()
    got = results(proto.command("STREAM", "FILE", "x", ""))
    proto.dataReceived(b"HANGUP\n")
    assert hangups == ["hangup"] and proto.hung_up and got == []
    proto.dataReceived(b"200 result=-1 endpos=4000\n")
    assert len(got) == 1 and isinstance(got[0], AgiReply) and got[0].failed


def test_command_timeout_closes_the_call() -> None:
    proto, transport, clock, _, _ = connected()
    first = results(proto.command("GET", "DATA", "x", "5000", "1", timeout=10))
    queued = results(proto.command("NOOP"))
    clock.advance(9.9)
    assert first == [] and not transport.disconnecting
    clock.advance(0.2)
    assert isinstance(first[0].value, TimeoutError)  # type: ignore[union-attr]
    assert isinstance(queued[0].value, CallEnded)  # type: ignore[union-attr]
    assert transport.disconnecting


@pytest.mark.parametrize(
    "garbage",
    [b"200 result=0\n", b"hello\n", b"\xff\xfe\n", b"9" * 9000 + b"\n"],
    ids=["reply-without-command", "text", "not-utf8", "too-long"],
)
def test_garbage_closes_the_call(garbage: bytes) -> None:
    proto, transport, _, _, _ = connected()
    proto.dataReceived(garbage)
    assert transport.disconnecting and proto.closed
    assert isinstance(results(proto.command("NOOP"))[0].value, CallEnded)  # type: ignore[union-attr]


def test_garbage_reply_fails_the_pending_command() -> None:
    proto, transport, _, _, _ = connected()
    got = results(proto.command("ANSWER"))
    proto.dataReceived(b"200 nonsense\n")
    assert isinstance(got[0].value, CallEnded)  # type: ignore[union-attr]
    assert transport.disconnecting


def test_connection_lost_fails_pending() -> None:
    proto, _, _, _, _ = connected()
    got = results(proto.command("ANSWER"))
    proto.connectionLost(None)
    assert isinstance(got[0].value, CallEnded)  # type: ignore[union-attr]


def test_peer_that_sends_no_environment_is_dropped() -> None:
    clock = Clock()
    proto = AgiProtocol(clock, env_timeout=10)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"agi_network: yes\n")  # started, never finished
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_environment_cancels_the_deadline() -> None:
    _, transport, clock, envs, _ = connected()
    clock.advance(3600)
    assert envs and not transport.disconnecting and not clock.getDelayedCalls()


def test_one_timer_serves_every_command_deadline() -> None:
    """Commands move one timer instead of each scheduling (and cancelling) its own."""
    proto, _, clock, _, _ = connected()
    scheduled: list[float] = []
    call_later = clock.callLater

    def counting(delay: float, *args: object, **kw: object) -> object:
        scheduled.append(delay)
        return call_later(delay, *args, **kw)

    clock.callLater = counting  # type: ignore[method-assign]
    for _ in range(5):
        proto.command("ANSWER", timeout=10)
        proto.dataReceived(b"200 result=0\n")
    proto.command("NOOP", timeout=10)
    assert len(scheduled) == 1 and len(clock.getDelayedCalls()) == 1


def test_deadline_counts_from_each_command_not_the_first_timer() -> None:
    """A timer armed for an earlier command wakes early and waits on for the later deadline."""
    proto, transport, clock, _, _ = connected()
    proto.command("ANSWER", timeout=10)
    clock.advance(6)
    proto.dataReceived(b"200 result=0\n")
    second = results(proto.command("NOOP", timeout=10))  # due at 16, the timer is at 10
    clock.advance(4.1)
    assert second == [] and not transport.disconnecting
    clock.advance(5.8)  # 15.9
    assert second == [] and not transport.disconnecting
    clock.advance(0.2)
    assert isinstance(second[0].value, TimeoutError)  # type: ignore[union-attr]
    assert transport.disconnecting


def test_shorter_deadline_than_the_armed_timer_fires_on_time() -> None:
    proto, transport, clock, _, _ = connected()
    proto.command("STREAM", "FILE", "x", "", timeout=60)
    proto.dataReceived(b"200 result=0 endpos=100\n")
    short = results(proto.command("ANSWER", timeout=5))
    clock.advance(4.9)
    assert short == []
    clock.advance(0.2)
    assert isinstance(short[0].value, TimeoutError)  # type: ignore[union-attr]
    assert transport.disconnecting


def test_timer_that_wakes_with_nothing_in_flight_is_harmless() -> None:
    proto, transport, clock, _, _ = connected()
    proto.command("ANSWER", timeout=10)
    proto.dataReceived(b"200 result=0\n")
    clock.advance(30)  # the menu thinks for a long time: no command, no timeout
    assert not transport.disconnecting and not clock.getDelayedCalls()
    late = results(proto.command("NOOP", timeout=10))
    clock.advance(9.9)
    assert late == [] and not transport.disconnecting
    proto.dataReceived(b"200 result=0\n")
    assert late == [AgiReply(200, "0")]


def test_close_leaves_no_timer_behind() -> None:
    proto, _, clock, _, _ = connected()
    proto.command("ANSWER", timeout=10)
    proto.close()
    assert not clock.getDelayedCalls()
