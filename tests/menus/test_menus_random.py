"""Random walks over every shipped menu: whatever callers press and effects return (channel
transfers included), the engine never raises, never leaves a session without an input wait or an
end, and reaches one of them within 50 steps of each input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from menus_support import BOOKING_YAML, GOOD_ID_KEYED, VALIDATORS

from menus.definition import AskNode, MenuDefinition, load_menu
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
KEYS = st.sampled_from(
    ["1", "2", "3", "9", "10", "12", "0", "*", "#", "", "1#", "98", "00", GOOD_ID_KEYED]
)
SHIPPED = sorted(BOOKING_YAML.parent.glob("*.yaml"))
MENUS = {path.name: load_menu(path) for path in SHIPPED}
MAX_STEPS = 50
INPUTS = st.one_of(
    st.builds(Digits, KEYS),
    st.builds(Digits, st.text("0123456789*#", max_size=20)),
    st.builds(Digits, st.text(max_size=4)),
    st.just(NoInput()),
    st.just(HangUp()),
    st.just(Start()),
    RESULTS,  # an effect result nobody asked for
)


def test_every_shipped_menu_is_walked() -> None:
    assert SHIPPED and all(isinstance(m, MenuDefinition) for m in MENUS.values())


@pytest.mark.parametrize("name", sorted(MENUS))
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    channel=st.sampled_from(["ussd", "ivr"]),
    lang=st.sampled_from(["zh", "en", "fr"]),
)
def test_random_walks_always_reach_an_output(
    name: str, data: st.DataObject, channel: str, lang: str
) -> None:
    menu = MENUS[name]
    session = start(menu, channel=channel, msisdn="8613800000000", lang=lang)
    inp = Start()
    for _turn in range(40):
        steps = 0
        while True:
            result = step(menu, session, inp, validators=VALIDATORS)
            assert (result.output is None) != (result.effect is None)
            session = result.session
            if result.output is not None:
                break
            steps += 1
            assert steps < MAX_STEPS, "effects chained without any output"
            inp = data.draw(RESULTS)
        output = result.output
        assert all(
            isinstance(p.text if hasattr(p, "text") else p.digits, str) for p in output.parts
        )
        if output.ends:
            assert session.ended
            return
        assert output.wait is not None and output.wait.min_digits <= output.wait.max_digits
        assert isinstance(menu.node(session.node), AskNode)  # waiting means asking
        inp = data.draw(INPUTS)
