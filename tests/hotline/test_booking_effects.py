"""Contract 3 effects (my_bookings, cancel, register) through the effect runner on real Redis."""

from __future__ import annotations

import pytest_twisted
from demo_booking import demo_service, valid_id

from hotline.effects import make_effect_runner
from menus.types import Effect, Session


def session(msisdn: str = "8613900000001", lang: str = "zh") -> Session:
    return Session(menu="booking", version="v", node="n", channel="ussd", msisdn=msisdn, lang=lang)


@pytest_twisted.ensureDeferred
async def test_my_bookings_cancel_and_register(redis) -> None:
    service, _ = demo_service(redis)
    run = make_effect_runner(service)
    s = session()
    args = {"dept": "nk", "day": "2026-11-27", "session": "am", "id_number": valid_id(1)}
    booked = await run(Effect("book", args), s)
    assert booked.ok, booked
    mine = await run(Effect("my_bookings", {}), s)
    assert mine.value == [{"id": booked.value["tcode"], "name": "内科 11月27日 上午"}]
    other = await run(Effect("cancel", {"tcode": booked.value["tcode"]}), session("8613900000002"))
    assert (other.ok, other.error) == (False, "not_found")  # only the phone that booked
    done = await run(Effect("cancel", {"tcode": booked.value["tcode"]}), s)
    assert done.ok and done.value == {"tcode": booked.value["tcode"]}
    again = await run(Effect("cancel", {"tcode": booked.value["tcode"]}), s)
    assert again.error == "cancelled"
    assert (await run(Effect("my_bookings", {}), s)).value == []

    assert (await run(Effect("register", {"id_number": valid_id(2)}), s)).ok
    assert (await run(Effect("register", {"id_number": valid_id(2)}), s)).ok  # idempotent
    third = await run(Effect("register", {"id_number": valid_id(3)}), s)
    assert third.error == "limit"  # valid_id(1) (booked) and valid_id(2) are bound already
    assert (await run(Effect("register", {"id_number": "123"}), s)).error == "invalid_id"
    assert await service.registered_ids(s.msisdn) == sorted([valid_id(1), valid_id(2)])


@pytest_twisted.ensureDeferred
async def test_cancel_after_the_deadline_is_too_late(redis) -> None:
    service, clock = demo_service(redis)
    run = make_effect_runner(service)
    args = {"dept": "nk", "day": "2026-11-26", "session": "pm", "id_number": valid_id(4)}
    booked = await run(Effect("book", args), session())
    clock.advance(5 * 3600)  # 15:00 on the day before the visit
    late = await run(Effect("cancel", {"tcode": booked.value["tcode"]}), session())
    assert late.error == "too_late"
