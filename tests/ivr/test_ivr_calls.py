"""Whole calls over real TCP: our FastAGI server against the Asterisk simulator."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from ivr_toys import ASK_ID, BYE, DONE, MAIN, STAR_HINT, TCODE, ToyDialogue
from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.protocols.basic import LineReceiver

from ivr.call import prompt_name
from ivr.server import FastAGIFactory, listen_fastagi
from ivr.simulator import HANGUP, SILENCE, Keys, TypeAhead, place_call
from ivr.simulator_rules import env_lines
from menus.types import Digits, HangUp, NoInput, Output, Say, Session, Wait

ESC = '"0123456789*"'
ID = "11010519491231002*"


def _reactor() -> Any:
    from twisted.internet import reactor

    return reactor


@pytest_twisted.async_yield_fixture
async def server():
    reactor = _reactor()
    dialogue = ToyDialogue()
    factory = FastAGIFactory(dialogue, clock=reactor)
    port = listen_fastagi(reactor, 0, factory)
    yield dialogue, factory, port.getHost().port
    await factory.when_idle()
    await port.stopListening()


def p(say: Any) -> str:
    return prompt_name(say, "zh")


@pytest_twisted.ensureDeferred
async def test_full_call_renders_outputs_and_collects_digits(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, ["1", ID])
    await factory.when_idle()
    assert sim.commands == [
        "ANSWER",
        f"STREAM FILE hotline/welcome {ESC}",
        f"GET DATA {p(MAIN)} 5000 1",
        f"STREAM FILE {p(ASK_ID)} {ESC}",
        f"GET DATA {p(STAR_HINT)} 5000 18",
        f'STREAM FILE {p(DONE)} ""',
        f'SAY DIGITS {TCODE} ""',
        "HANGUP",
    ]
    assert dialogue.begun == [
        {"menu": "booking", "channel": "ivr", "msisdn": "8613800138000", "lang": None}
    ]
    assert dialogue.inputs == [Digits("1"), Digits(ID)]
    assert sim.said_digits == [TCODE]
    assert sim.events("aborted") == []
    assert sim.transcript[-1] == ("closed", "")


@pytest_twisted.ensureDeferred
async def test_barge_in_key_counts_as_first_digit(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, [TypeAhead("1"), TypeAhead("110105194912310021")])
    await factory.when_idle()
    assert dialogue.inputs == [Digits("1"), Digits("110105194912310021")]
    # the welcome prompt was cut short by '1'; no GET DATA for the 1-digit choice
    assert sim.commands[1:4] == [
        f"STREAM FILE hotline/welcome {ESC}",
        f"STREAM FILE {p(ASK_ID)} {ESC}",
        "GET DATA silence/1 3000 17",
    ]


@pytest_twisted.ensureDeferred
async def test_silence_becomes_no_input_then_goodbye(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, [SILENCE, SILENCE])
    await factory.when_idle()
    assert dialogue.inputs == [NoInput(), NoInput()]
    assert sim.commands[-2:] == [f'STREAM FILE {p(BYE)} ""', "HANGUP"]
    assert len(sim.events("timeout")) == 2


@pytest_twisted.ensureDeferred
async def test_caller_hangup_feeds_hangup_and_closes(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, ["1", HANGUP])
    await factory.when_idle()
    assert dialogue.inputs == [Digits("1"), HangUp()]
    assert sim.events("hangup") == ["caller"]
    assert "HANGUP" not in sim.commands  # nothing sent after the channel died
    assert sim.transcript[-1] == ("closed", "")


@pytest_twisted.ensureDeferred
async def test_missing_prompt_is_skipped_and_the_call_goes_on(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, ["1", ID], missing_files={"hotline/welcome"})
    await factory.when_idle()
    # result=-1: hang-up or media? the probe is answered (channel up) → a missing file
    assert sim.commands[:4] == [
        "ANSWER",
        f"STREAM FILE hotline/welcome {ESC}",
        "CHANNEL STATUS",
        f"GET DATA {p(MAIN)} 5000 1",
    ]
    assert dialogue.inputs == [Digits("1"), Digits(ID)] and sim.said_digits == [TCODE]


@pytest_twisted.ensureDeferred
async def test_missing_question_prompt_still_listens(server) -> None:
    dialogue, factory, port = server
    sim = await place_call(_reactor(), port, ["1", ID], missing_files={p(MAIN)})
    await factory.when_idle()
    assert sim.commands[2:5] == [
        f"GET DATA {p(MAIN)} 5000 1",
        "CHANNEL STATUS",
        "GET DATA silence/1 5000 1",
    ]
    assert dialogue.inputs == [Digits("1"), Digits(ID)]


@pytest_twisted.ensureDeferred
async def test_media_failure_ends_call_without_hangup_command(server) -> None:
    dialogue, factory, port = server
    missing = {p(MAIN), "silence/1"}  # not even silence plays: the channel's media is broken
    sim = await place_call(_reactor(), port, ["1"], missing_files=missing)
    await factory.when_idle()
    assert sim.commands[-1] == "CHANNEL STATUS" and "HANGUP" not in sim.commands
    assert dialogue.inputs == [HangUp()]  # the menu still gets to release
    assert sim.events("hangup") == []  # the dialplan continues after AGI()


@pytest_twisted.ensureDeferred
async def test_withheld_caller_id_gives_empty_msisdn(server) -> None:
    dialogue, factory, port = server
    await place_call(_reactor(), port, [HANGUP], callerid=None)
    await factory.when_idle()
    assert dialogue.begun[0]["msisdn"] == ""


class RawAsterisk(LineReceiver):
    """Sends the env block, then answers the first command with ``answer``."""

    delimiter = b"\n"

    def __init__(self, env: list[str], answer: bytes) -> None:
        self.env, self.answer = env, answer
        self.received: list[bytes] = []
        self.closed: defer.Deferred[None] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write("".join(line + "\n" for line in self.env).encode())

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)
        self.transport.write(self.answer)

    def connectionLost(self, reason: Any = None) -> None:
        self.closed.callback(None)


async def _raw(port: int, proto: Protocol) -> None:
    from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

    await connectProtocol(TCP4ClientEndpoint(_reactor(), "127.0.0.1", port), proto)


@pytest_twisted.ensureDeferred
async def test_garbage_reply_closes_that_call_only(server) -> None:
    dialogue, factory, port = server
    raw = RawAsterisk(env_lines(script="booking", port=port), b"hello there\n")
    await _raw(port, raw)
    sim = await place_call(_reactor(), port, ["1", ID])  # a concurrent, well-behaved call
    await raw.closed
    await factory.when_idle()
    assert raw.received == [b"ANSWER"]
    assert sim.commands[-1] == "HANGUP" and sim.said_digits == [TCODE]
    assert HangUp() in dialogue.inputs  # the broken call's session was released


@pytest.mark.parametrize(
    "payload",
    [
        b"not an env line\n\n",
        b"agi_network: yes\n" + b"x" * 9000 + b"\n",
        b"\n",  # empty environment
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_environment_closes_without_starting(server, payload: bytes) -> None:
    dialogue, _factory, port = server
    raw = RawAsterisk([], b"")
    await _raw(port, raw)
    raw.transport.write(payload)
    await raw.closed
    assert dialogue.begun == [] and raw.received == []


@pytest_twisted.ensureDeferred
async def test_menu_language_from_the_agi_url(server) -> None:
    dialogue, factory, port = server
    await place_call(_reactor(), port, [HANGUP], menu="booking?lang=en")
    await factory.when_idle()
    assert dialogue.begun[0]["menu"] == "booking" and dialogue.begun[0]["lang"] == "en"


@pytest_twisted.ensureDeferred
async def test_a_burst_of_concurrent_calls_all_complete(server) -> None:
    dialogue, factory, port = server
    calls = [place_call(_reactor(), port, ["1", ID], uniqueid=f"1764100000.{i}") for i in range(60)]
    sims = await defer.gatherResults(calls)
    await factory.when_idle()
    assert all(sim.said_digits == [TCODE] and sim.commands[-1] == "HANGUP" for sim in sims)
    assert dialogue.inputs.count(Digits(ID)) == 60


class NoticeDialogue(ToyDialogue):
    """A legal notice that keys cannot interrupt, then the menu question."""

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None,
        channel_effects: Any = None,
    ) -> tuple[Session, Output]:
        session, _ = await super().begin(menu, channel=channel, msisdn=msisdn, lang=lang)
        return session, Output((Say("录音告知", bargein=False), MAIN), Wait(max_digits=1))


@pytest_twisted.ensureDeferred
async def test_no_barge_in_during_a_legal_notice() -> None:
    reactor = _reactor()
    dialogue = NoticeDialogue()
    factory = FastAGIFactory(dialogue, clock=reactor)
    port = listen_fastagi(reactor, 0, factory)
    try:
        sim = await place_call(reactor, port.getHost().port, [TypeAhead("1"), "1", HANGUP])
        await factory.when_idle()
    finally:
        await port.stopListening()
    notice = prompt_name(Say("录音告知"), "zh")
    assert sim.commands[1] == f'STREAM FILE {notice} ""'  # no escape digits: keys are dropped
    assert ("key", "1") not in sim.transcript[:6]
    assert sim.commands[2] == f"GET DATA {p(MAIN)} 5000 1"  # the question still listens
    assert dialogue.inputs[0] == Digits("1")


class ListDialogue(ToyDialogue):
    """A question with three options: played and collected by one EXEC Read."""

    OPTIONS = (Say("内科请按1。"), Say("外科请按2。"), Say("儿科请按3。"))

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None,
        channel_effects: Any = None,
    ) -> tuple[Session, Output]:
        session, _ = await super().begin(menu, channel=channel, msisdn=msisdn, lang=lang)
        return session, Output((Say("请选择科室"), *self.OPTIONS), Wait(max_digits=1))

    async def resume(
        self, session: Session, inp: Any, *, channel_effects: Any = None
    ) -> tuple[Session, Output]:
        self.inputs.append(inp)
        return session.evolve(ended=True), Output((BYE,), None)


async def _list_call(script: list[Any], **kw: Any) -> tuple[Any, ListDialogue]:
    reactor = _reactor()
    dialogue = ListDialogue()
    factory = FastAGIFactory(dialogue, clock=reactor)
    port = listen_fastagi(reactor, 0, factory)
    try:
        sim = await place_call(reactor, port.getHost().port, script, **kw)
        await factory.when_idle()
    finally:
        await port.stopListening()
    return sim, dialogue


@pytest_twisted.ensureDeferred
async def test_question_with_options_is_one_read() -> None:
    sim, dialogue = await _list_call(["2"])
    names = "&".join(p(s) for s in (Say("请选择科室"), *ListDialogue.OPTIONS))
    assert sim.commands[1:3] == [
        f"EXEC Read HOTLINE_KEYS,{names},1,,1,5",
        "GET FULL VARIABLE ${READSTATUS},${HOTLINE_KEYS}",
    ]
    assert sim.events("reply")[2] == "200 result=1 (OK,2)"
    assert dialogue.inputs == [Digits("2")]


@pytest_twisted.ensureDeferred
async def test_read_barge_in_timeout_and_hangup() -> None:
    sim, dialogue = await _list_call([TypeAhead("3")])
    assert ("key", "3") in sim.transcript and dialogue.inputs == [Digits("3")]
    assert len(sim.played) < 4 + 1  # the key stopped the list early
    sim, dialogue = await _list_call([SILENCE])
    assert dialogue.inputs == [NoInput()] and sim.commands[-1] == "HANGUP"
    sim, dialogue = await _list_call([HANGUP])
    assert dialogue.inputs == [HangUp()] and "HANGUP" not in sim.commands


@pytest_twisted.ensureDeferred
async def test_without_the_read_application_prompts_play_one_by_one() -> None:
    sim, dialogue = await _list_call(["1"], missing_apps={"Read"})
    assert sim.commands[2:5] == [
        f"STREAM FILE {p(Say('请选择科室'))} {ESC}",
        f"STREAM FILE {p(ListDialogue.OPTIONS[0])} {ESC}",
        f"STREAM FILE {p(ListDialogue.OPTIONS[1])} {ESC}",
    ]
    assert sim.commands[5] == f"GET DATA {p(ListDialogue.OPTIONS[2])} 5000 1"
    assert dialogue.inputs == [Digits("1")]


class EntryDialogue(ToyDialogue):
    """One question with a configurable Wait; records what it got."""

    def __init__(self, wait: Wait) -> None:
        super().__init__()
        self.wait = wait

    async def begin(
        self, menu: str, *, channel: str, msisdn: str, lang: str | None = None,
        channel_effects: Any = None,
    ) -> tuple[Session, Output]:
        session, _ = await super().begin(menu, channel=channel, msisdn=msisdn, lang=lang)
        return session, Output((Say("请输入"),), self.wait)

    async def resume(
        self, session: Session, inp: Any, *, channel_effects: Any = None
    ) -> tuple[Session, Output]:
        self.inputs.append(inp)
        return session.evolve(ended=True), Output((BYE,), None)


async def _entry_call(wait: Wait, script: list[Any]) -> tuple[Any, EntryDialogue]:
    reactor = _reactor()
    dialogue = EntryDialogue(wait)
    factory = FastAGIFactory(dialogue, clock=reactor)
    port = listen_fastagi(reactor, 0, factory)
    try:
        sim = await place_call(reactor, port.getHost().port, script)
        await factory.when_idle()
    finally:
        await port.stopListening()
    return sim, dialogue


@pytest_twisted.ensureDeferred
async def test_fixed_length_entry_ends_on_the_last_key() -> None:
    sim, dialogue = await _entry_call(Wait(4, 4), [Keys("1234", after=1.0, gap=0.5)])
    assert dialogue.inputs == [Digits("1234")]
    assert sim.events("reply")[1] == "200 result=1234"  # no "(timeout)": it did not wait
    assert sim.elapsed == pytest.approx(2.0 + 1.0 + 3 * 0.5)  # prompt + keying, no timeout


@pytest_twisted.ensureDeferred
async def test_variable_length_entry_ends_on_pound() -> None:
    sim, dialogue = await _entry_call(Wait(1, 11), [Keys("138#", after=1.0, gap=0.5)])
    assert dialogue.inputs == [Digits("138")]
    assert sim.events("reply")[1] == "200 result=138"
    sim, dialogue = await _entry_call(Wait(1, 11), [Keys("138", after=1.0, gap=0.5)])
    assert dialogue.inputs == [Digits("138")]  # no '#': the inter-digit timeout ends it
    assert sim.events("reply")[1] == "200 result=138 (timeout)"
