"""Nothing silent: every step of the shipped menu, in every voice language, plays built files
that say what the menu shows.

The walk drives the real engine and the real effect runner (``dialogue.effects``, against a
small in-memory booking service with the demo catalog) through every edge of the menu: every
option, the global keys, a valid and an invalid ID, silence, and every ``on_error`` route of
every effect. Each output is split into the pieces a call plays (``ivr.compose``) and each piece
must be in the sound set ``hotline prompts build`` makes (built for real, espeak-ng + sox); the
pieces' texts, joined, must say the output's text as a caller hears it (``ivr.compose.heard``: a
list of dates says each month once per change), and nothing else may differ.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from booking.api import Booking, BookingStatus, SessionAvailability
from booking.catalog import load_catalog
from booking.directory import hospital_value
from booking.idcard import is_valid_resident_id
from commands.main import main
from dialogue.effects import make_effect_runner
from ivr.compose import compose, heard, normalised, text_name
from ivr.prompt_texts import lexicons
from ivr.render import clips
from ivr.words import SCREEN
from menus._model import AskNode
from menus._render import READBACK, options
from menus.definition import load_menu
from menus.engine import start, step
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    Input,
    NoInput,
    Output,
    Say,
    SayDigits,
    Session,
    Start,
)
from tests.ivr.voice_sounds import CATALOG, MENU, built_sounds

VALID_ID = "11010519491231002X"
DAY = dt.date(2026, 12, 6)  # a Sunday
TCODE = "0123456789"
VALIDATORS = {"resident_id": is_valid_resident_id}


class DemoBooking:
    """Just enough of ``BookingService`` for the walk: the demo catalog, fixed answers."""

    def __init__(self) -> None:
        self.catalog = load_catalog(CATALOG)
        self.ids: list[str] = []

    async def hospitals(self) -> list[Any]:
        return [hospital_value(self.catalog)]  # a platform of one: no hospital question

    async def recent_hospitals(self, msisdn: str) -> list[str]:
        return []

    async def departments(self, hospital_id: str = "") -> list[Any]:
        return list(self.catalog.departments)

    async def open_days(self, dept_id: str, hospital_id: str = "") -> list[dt.date]:
        return [DAY, DAY + dt.timedelta(days=1), dt.date(2027, 1, 2)]  # and a new month

    async def sessions(self, dept_id: str, day: dt.date, hospital_id: str = ""
                       ) -> list[SessionAvailability]:
        dept = next(d for d in self.catalog.departments if d.id == dept_id)
        return [SessionAvailability(dept_id, day, t.id, t.label, 12) for t in dept.sessions]

    def _booking(self) -> Booking:
        dept = self.catalog.departments[-1]
        template = dept.sessions[-1]
        return Booking(
            TCODE, dept.id, dept.name, DAY, template.id, template.label,
            VALID_ID, "8613912345678", "ivr", BookingStatus.CONFIRMED, 0.0,
        )  # fmt: skip

    async def book(self, request: Any) -> Booking:
        return self._booking()

    async def bookings_for(self, msisdn: str) -> list[Booking]:
        return [self._booking()]

    async def cancel(self, tcode: str, msisdn: str | None = None) -> Booking:
        return self._booking()

    async def register(self, msisdn: str, id_number: str) -> list[str]:
        return [id_number]

    async def registered_ids(self, msisdn: str) -> list[str]:
        return list(self.ids)


class Memory:
    async def remember(self, msisdn: str, lang: str) -> None:
        return None

    async def preferred(self, channel: str, msisdn: str) -> str | None:
        return None


def _run(coro: Any) -> Any:
    """Drive a coroutine that never waits on I/O (the demo service answers at once)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the demo effect waited on something")


def effect_results(node: Any, effect: Effect, session: Session, demo: DemoBooking) -> list[Any]:
    """The real effect's answer (for registered_ids: none, one and two IDs), then every error
    route the node has."""
    out: list[EffectResult] = []
    if effect.name.startswith("channel."):
        out.append(EffectResult(ok=True, value={"outcome": "answered", "tail": "5678"}))
    elif effect.name == "registered_ids":
        for ids in ([], [VALID_ID], [VALID_ID, "110105194912310029"]):
            demo.ids = ids
            out.append(_run(runner(demo)(effect, session)))
    else:
        out.append(_run(runner(demo)(effect, session)))
    for code in getattr(node, "on_error", {}):
        out.append(EffectResult(ok=False, error=None if code == "default" else code))
    return out


def runner(demo: DemoBooking) -> Any:
    return make_effect_runner(demo, languages=Memory())  # type: ignore[arg-type]


def answers(definition: Any, session: Session, output: Output) -> Iterator[Input]:
    """What a caller may do at this question: every shown key, the global keys, an ID."""
    node = definition.node(session.node)
    assert isinstance(node, AskNode)
    yield NoInput()
    if node.digits is not None and READBACK not in session.vars:
        yield Digits(VALID_ID.replace("X", "*"))
        yield Digits("123456789012345678")
    else:
        for key, _ in options(definition, session, node):
            yield Digits(key)
        yield Digits("1")  # a readback's confirm
    for key in ("*", "9", "0", "5"):
        yield Digits(key)


def walk(lang: str) -> list[tuple[Session, Output]]:
    """Every output of the menu reached from the start in ``lang``, each edge taken once."""
    definition = load_menu(MENU)
    demo = DemoBooking()
    seen: set[tuple[str, str, str]] = set()
    outputs: list[tuple[Session, Output]] = []
    first = start(definition, channel="ivr", msisdn="8613912345678", lang=lang)
    todo: list[tuple[Session, Input]] = [(first, Start())]
    while todo:
        session, inp = todo.pop()
        st = step(definition, session, inp, validators=VALIDATORS)
        if st.effect is not None:
            node = definition.node(st.session.node)
            for result in effect_results(node, st.effect, st.session, demo):
                edge = (st.session.node, st.session.lang, f"{sorted(st.session.vars)}{result!r}")
                if edge not in seen:
                    seen.add(edge)
                    todo.append((st.session, result))
            continue
        assert st.output is not None
        outputs.append((st.session, st.output))
        if st.output.wait is None:
            continue
        for answer in answers(definition, st.session, st.output):
            edge = (st.session.node, st.session.lang, f"{sorted(st.session.vars)}{answer!r}")
            if edge not in seen:
                seen.add(edge)
                todo.append((st.session, answer))
    return outputs


def _said(part: Say | SayDigits) -> str:
    return part.digits if isinstance(part, SayDigits) else part.text


def _left_out(whole: str, shorter: str) -> set[str]:
    """Each run of characters whose removal from ``whole`` gives ``shorter`` ("12月12日" less
    "12月" or "月12" is "12日")."""
    cut = len(whole) - len(shorter)
    if cut <= 0:
        return set()
    return {
        whole[i : i + cut]
        for i in range(len(shorter) + 1)
        if whole[:i] == shorter[:i] and whole[i + cut :] == shorter[i:]
    }


def _month_words(lang: str) -> set[str]:
    forms = SCREEN[lang].items()
    return {normalised(text) for text, name in forms if name.startswith("hotline/words/month_")}


@pytest.fixture(scope="module")
def sounds() -> dict[str, set[str]]:
    return built_sounds()[1]


@pytest.mark.parametrize("lang", ["zh", "en", "yue"])
def test_every_step_plays_built_files_that_say_the_text(lang: str, sounds) -> None:
    outputs = walk(lang)
    nodes = {session.node for session, _ in outputs}
    # the walk reaches the booking read-back, the booked code and the other branches
    assert {"confirm", "done", "pick_period_known", "one_booking", "registered"} <= nodes
    assert {"full", "duplicate", "cancelled", "$transferred"} & nodes or "book" in nodes
    problems: set[str] = set()
    spoken = shortened = 0
    lex = lexicons([load_menu(MENU)], load_catalog(CATALOG))  # as hotline serve has them
    for session, output in outputs:
        have = sounds[session.lang]
        said_as = heard(output.parts, session.lang)
        for ear, screen in zip(said_as, output.parts, strict=True):
            if ear != screen:  # only a month word may be left out, and only that
                shortened += 1
                gone = _left_out(normalised(_said(screen)), normalised(_said(ear)))
                if not gone & _month_words(session.lang):
                    problems.add(f"{session.node}: heard {_said(ear)!r} for {_said(screen)!r}")
        for part in said_as:
            pieces = compose(part, session.lang, lex[session.lang])
            said = normalised("".join(p.text for p in pieces))
            if said != normalised(_said(part)):
                problems.add(f"{session.node}: pieces say {said!r}, the text {_said(part)!r}")
            for piece in pieces:
                spoken += 1
                if piece.name not in have:
                    problems.add(f"{session.lang}/{piece.name} ({piece.text!r}) at {session.node}")
        for clip in clips(output.parts, session.lang, lex[session.lang]):  # what a call sends
            if clip.digits is None and clip.name not in have:
                problems.add(f"{session.lang}/{clip.name} played at {session.node}")
    assert not problems, "\n".join(sorted(problems))
    assert spoken > 200
    assert shortened > 0  # the date list's second day left its month out


def test_the_read_back_names_department_day_session_and_id_tail() -> None:
    catalog = load_catalog(CATALOG)
    for lang in ("zh", "en", "yue"):
        confirms = [o for s, o in walk(lang) if s.node == "confirm" and s.lang == lang]
        assert confirms, lang
        pieces = compose(confirms[0].parts[0], lang)
        names = [p.name for p in pieces]
        texts = [p.text for p in pieces]
        depts = {d.name.get(lang, d.name["zh"]) for d in catalog.departments}
        assert depts & set(texts), texts  # the department, as one piece of its own
        assert [n for n in names if n.startswith("hotline/words/month_")], names
        assert [n for n in names if n.startswith("hotline/words/weekday_")], names
        assert {"hotline/words/am", "hotline/words/pm"} & set(names), names
        tail = ["digits/0", "digits/0", "digits/2", "letters/x"]  # ID ending 002X
        assert names[-len(tail) :] == tail or names[-len(tail) - 1 : -1] == tail, names


SINGLE = EffectResult(ok=True, value={"mode": "single", "hospital": {"id": "main"}})


def test_cantonese_is_offered_on_voice_only_and_keeps_its_language() -> None:
    definition = load_menu(MENU)
    voice = start(definition, channel="ivr", msisdn="8613912345678", lang="zh")
    begun = step(definition, voice, Start(), validators=VALIDATORS)  # hospital_start
    st = step(definition, begun.session, SINGLE, validators=VALIDATORS)
    assert any("粤语服务" in _said(p) for p in st.output.parts)
    ussd = start(definition, channel="ussd", msisdn="8613912345678", lang="yue")
    assert ussd.lang == "zh"  # USSD stays zh/en
    begun = step(definition, ussd, Start(), validators=VALIDATORS)
    st_ussd = step(definition, begun.session, SINGLE, validators=VALIDATORS)
    assert not any("粤语" in _said(p) for p in st_ussd.output.parts)
    chose = step(definition, st.session, Digits("8"), validators=VALIDATORS)
    assert chose.effect is not None and chose.effect.name == "remember_language"
    assert chose.session.lang == "yue"
    assert "yue" in {s.session.lang for s in [chose]}
    remembered = step(definition, chose.session, EffectResult(ok=True, value={}),
                      validators=VALIDATORS)  # the welcome again, in Cantonese: begin anew
    assert remembered.effect is not None and remembered.effect.name == "hospital_start"
    again = step(definition, remembered.session, SINGLE, validators=VALIDATORS)
    assert again.session.node == "welcome" and again.session.lang == "yue"
    assert any("普通话" in _said(p) for p in again.output.parts)  # and the way back


def test_menus_check_prompts_fails_on_a_piece_that_cannot_be_played(tmp_path, capsys) -> None:
    built, _ = built_sounds()
    copy = tmp_path / "sounds"
    shutil.copytree(built, copy)
    args = ["menus", "check", "--prompts", str(copy), "--catalog", str(CATALOG), str(MENU)]
    assert main(args) == 0, capsys.readouterr().out
    capsys.readouterr()
    (copy / "yue" / f"{text_name('眼科', 'yue')}.sln").unlink()  # a department, in Cantonese
    (copy / "en" / "hotline/words/weekday_6.sln").unlink()
    assert main(args) == 1
    out = capsys.readouterr().out
    assert f"yue text '眼科' has no prompt file yue/{text_name('眼科', 'yue')}" in out
    assert "en text 'Sunday' has no prompt file en/hotline/words/weekday_6" in out
