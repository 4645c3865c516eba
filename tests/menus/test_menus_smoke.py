"""A first end-to-end walk of the shipped booking menu (deeper tests live beside it)."""

from __future__ import annotations

from pathlib import Path

from menus.definition import load_menu
from menus.engine import start, step
from menus.types import Digits, EffectResult, SayDigits, Start

BOOKING = Path(__file__).resolve().parents[2] / "config" / "menus" / "booking.yaml"


def test_booking_walk_reaches_tcode() -> None:
    menu = load_menu(BOOKING)
    session = start(menu, channel="ussd", msisdn="8613800000000")
    results = {
        "hospital_start": {"mode": "single", "hospital": {"id": "main"}, "recent": []},
        "registered_ids": [],
        "departments": [{"id": "nk", "name": "内科"}],
        "open_days": [{"id": "2026-11-26", "name": "11月26日"}],
        "sessions": [{"id": "am", "name": "上午", "left": 2}],
        "book": {"tcode": "1234567890"},
    }
    inputs = iter(["1", "1", "1", "1", "11010519491231002*", "1"])
    inp = Start()
    for _ in range(30):
        st = step(menu, session, inp, validators={"resident_id": lambda v: len(v) == 18})
        session = st.session
        if st.effect is not None:
            inp = EffectResult(ok=True, value=results[st.effect.name])
        elif st.output is not None and st.output.wait is None:
            break
        else:
            inp = Digits(next(inputs))
    assert st.output is not None and st.output.ends
    assert SayDigits("1234567890") in st.output.parts
