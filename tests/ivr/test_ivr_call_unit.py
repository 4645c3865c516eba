"""Call over a StringTransport and a Clock: the hang-up paths that TCP makes racy."""

from __future__ import annotations

from typing import Any

from ivr_toys import ToyDialogue
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from ivr.agi import AgiProtocol
from ivr.call import Call
from ivr.simulator_rules import env_lines
from ivr.states import CallRecord, Deadlines
from menus.types import Digits, HangUp, Input, Output, Session

ENV = "".join(line + "\n" for line in env_lines(script="booking")).encode()


class GatedDialogue(ToyDialogue):
    """Holds the first resume until ``gate`` fires (an effect still running)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate: Deferred[None] = Deferred()

    async def resume(
        self, session: Session, inp: Input, *, channel_effects: Any = None
    ) -> tuple[Session, Output]:
        if not self.gate.called:
            await self.gate
        return await super().resume(session, inp)


class BrokenDialogue(ToyDialogue):
    async def begin(self, menu: str, **kw: Any) -> tuple[Session, Output]:
        raise KeyError(f"no menu named {menu!r}")


def start(
    dialogue: ToyDialogue, records: list[CallRecord] | None = None
) -> tuple[AgiProtocol, StringTransport, Clock, list[object]]:
    clock = Clock()
    proto = AgiProtocol(clock)
    transport = StringTransport()
    done: list[object] = []

    def on_env(env: Any) -> None:
        call = Call(proto, env, dialogue, on_record=None if records is None else records.append)
        Deferred.fromCoroutine(call.run()).addBoth(done.append)

    proto.on_env = on_env
    proto.makeConnection(transport)
    proto.dataReceived(ENV)
    return proto, transport, clock, done


def written(transport: StringTransport) -> list[str]:
    return transport.value().decode().splitlines()


def test_dead_channel_511_releases_the_session() -> None:
    dialogue = ToyDialogue()
    proto, transport, _, done = start(dialogue)
    proto.dataReceived(b"200 result=0\n")  # ANSWER
    proto.dataReceived(b"511 Command Not Permitted on a dead channel or intercept routine\n")
    assert written(transport)[-1].startswith("STREAM FILE hotline/welcome")
    assert dialogue.inputs == [HangUp()]
    assert transport.disconnecting and done == [None]


def test_command_timeout_closes_and_releases() -> None:
    dialogue = ToyDialogue()
    proto, transport, clock, done = start(dialogue)
    proto.dataReceived(b"200 result=0\n")  # ANSWER; now STREAM FILE has prompt_s + margin_s
    limit = Deadlines().for_command(("STREAM", "FILE", "x", ""))
    clock.advance(limit - 1)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting and dialogue.inputs == [HangUp()] and done == [None]


def test_control_command_deadline_is_short() -> None:
    dialogue = ToyDialogue()
    _, transport, clock, done = start(dialogue)  # ANSWER is on the wire, never answered
    clock.advance(Deadlines().control_s + 0.1)
    assert transport.disconnecting and done == [None]


def test_hangup_while_the_menu_is_busy_sends_nothing_more() -> None:
    dialogue = GatedDialogue()
    proto, transport, _, done = start(dialogue)
    for reply in (b"200 result=0\n", b"200 result=0 endpos=16000\n", b"200 result=1\n"):
        proto.dataReceived(reply)  # ANSWER, welcome, GET DATA → '1'
    before = written(transport)
    assert before[-1].startswith("GET DATA") and done == []
    proto.dataReceived(b"HANGUP\n")  # idle hang-up: only the HANGUP line
    dialogue.gate.callback(None)  # the menu finishes its work
    assert written(transport) == before  # no command after the hang-up
    assert dialogue.inputs == [Digits("1"), HangUp()]
    assert transport.disconnecting and done == [None]


def test_unknown_menu_closes_without_commands() -> None:
    _, transport, _, done = start(BrokenDialogue())
    assert written(transport) == [] and transport.disconnecting and done == [None]


def test_unknown_command_reply_ends_the_call() -> None:
    dialogue = ToyDialogue()
    proto, transport, _, done = start(dialogue)
    proto.dataReceived(b"510 Invalid or unknown command\n")
    assert dialogue.inputs == [HangUp()] and transport.disconnecting and done == [None]


def test_no_menu_in_the_url_closes_cleanly() -> None:
    clock = Clock()
    proto = AgiProtocol(clock)
    transport = StringTransport()
    records: list[CallRecord] = []
    done: list[object] = []

    def on_env(env: Any) -> None:
        call = Call(proto, env, ToyDialogue(), on_record=records.append)
        Deferred.fromCoroutine(call.run()).addBoth(done.append)

    proto.on_env = on_env
    proto.makeConnection(transport)
    proto.dataReceived("".join(x + "\n" for x in env_lines(script="")).encode())
    assert done == [None] and transport.disconnecting and written(transport) == []
    assert records[0].result == "error"


def test_socket_lost_during_the_final_hangup() -> None:
    dialogue = ToyDialogue()
    records: list[CallRecord] = []
    proto, transport, _, done = start(dialogue, records)
    for reply in (b"200 result=0\n", b"200 result=0 endpos=1\n", b"200 result=1\n"):
        proto.dataReceived(reply)  # ANSWER, welcome, GET DATA → '1'
    proto.dataReceived(b"200 result=0 endpos=1\n200 result=110105194912310021\n")
    proto.dataReceived(b"200 result=0 endpos=1\n200 result=0\n")  # DONE, SAY DIGITS
    assert written(transport)[-1] == "HANGUP"
    proto.connectionLost(None)  # gone before HANGUP's reply
    assert done == [None] and records[0].result == "hangup"
    assert dialogue.inputs == [Digits("1"), Digits("110105194912310021")]  # no HangUp() fed
