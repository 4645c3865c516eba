"""Random walks over the shipped menu: whatever callers press and effects return, the engine
answers with an output (a question or an end) within its step cap and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from menus_support import GOOD_ID_KEYED, VALIDATORS

from menus.definition import MenuDefinition
from menus.engine import start, step
from menus.types import Digits, EffectResult, HangUp, NoInput, Start

ITEM = st.fixed_dictionaries(
    {"id": st.text(max_size=6), "name": st.text(max_size=8)}, optional={"left": st.integers(0, 5)}
)
GARBAGE = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
RESULTS = st.one_of(
    st.builds(EffectResult, ok=st.just(True), value=st.lists(ITEM, max_size=12)),
    st.builds(
        EffectResult,
        ok=st.just(True),
        value=st.fixed_dictionaries({"tcode": st.text("0123456789", min_size=10, max_size=10)}),
    ),
    st.builds(EffectResult, ok=st.just(True), value=GARBAGE),
    st.builds(
        EffectResult,
        ok=st.just(False),
        error=st.sampled_from(["full", "duplicate", "invalid_id", "closed", "error", None, "??"]),
    ),
)
KEYS = st.sampled_from(["1", "2", "3", "9", "10", "12", "0", "*", "#", "", "1#", GOOD_ID_KEYED])
INPUTS = st.one_of(
    st.builds(Digits, KEYS),
    st.builds(Digits, st.text("0123456789*#", max_size=20)),
    st.builds(Digits, st.text(max_size=4)),
    st.just(NoInput()),
    st.just(HangUp()),
    st.just(Start()),
    RESULTS,  # an effect result nobody asked for
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    channel=st.sampled_from(["ussd", "ivr"]),
    lang=st.sampled_from(["zh", "en", "fr"]),
)
def test_random_walks_always_reach_an_output(
    booking_menu: MenuDefinition, data: st.DataObject, channel: str, lang: str
) -> None:
    session = start(booking_menu, channel=channel, msisdn="8613800000000", lang=lang)
    inp = Start()
    for _turn in range(40):
        effects = 0
        while True:
            result = step(booking_menu, session, inp, validators=VALIDATORS)
            assert (result.output is None) != (result.effect is None)
            session = result.session
            if result.output is not None:
                break
            effects += 1
            assert effects <= 5, "effects chained without any output"
            inp = data.draw(RESULTS)
        output = result.output
        assert all(
            isinstance(p.text if hasattr(p, "text") else p.digits, str) for p in output.parts
        )
        if output.ends:
            assert session.ended
            return
        assert output.wait is not None and output.wait.min_digits <= output.wait.max_digits
        assert session.node in booking_menu.nodes
        inp = data.draw(INPUTS)
