"""Contract 3 effects (my_bookings, cancel, register) through the effect runner on real Redis."""

from __future__ import annotations

import pytest_twisted
from demo_booking import demo_service, valid_id

from dialogue.effects import make_effect_runner
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


@pytest_twisted.ensureDeferred
async def test_hospital_effects_on_a_platform_of_three(redis, tmp_path) -> None:
    """Choosing the hospital against the real service: the start, the list, a code, and a
    booking that lands in the chosen hospital and makes it the caller's recent one."""
    from demo_booking import clock_at_now
    from hospital_choice_support import THREE, write_platform

    from booking.store import RedisBookingService

    service = RedisBookingService(redis, write_platform(tmp_path / "h", THREE), clock_at_now())
    run = make_effect_runner(service)
    s = session()
    start = await run(Effect("hospital_start", {"entry": ""}), s)
    assert start.value == {"mode": "new", "hospital": {}, "recent": [], "entry": ""}
    listed = (await run(Effect("hospitals", {}), s)).value
    assert [(h["id"], h["name"], h["code"]) for h in listed] == [
        ("h1", "市一医院", "11"), ("h2", "市二医院", "12"), ("h3", "中医院", "13")]
    assert listed[0]["full"] == "市一医院（演示）" and listed[0]["district"] == "福田区"
    assert (await run(Effect("districts", {}), s)).value == [
        {"id": "福田区", "name": "福田区"}, {"id": "南山区", "name": "南山区"}]
    south = (await run(Effect("hospitals", {"district": "南山区"}), s)).value
    assert [h["id"] for h in south] == ["h2", "h3"]
    assert (await run(Effect("hospital_by_code", {"code": "13"}), s)).value["id"] == "h3"
    assert (await run(Effect("hospital_by_code", {"code": "99"}), s)).error == "unknown_hospital"
    preset = await run(Effect("hospital_start", {"entry": "12"}), s)
    assert preset.value["mode"] == "preset" and preset.value["hospital"]["id"] == "h2"
    unknown = await run(Effect("hospital_start", {"entry": "99"}), s)
    assert (unknown.value["mode"], unknown.value["entry"]) == ("unknown", "99")

    days = (await run(Effect("open_days", {"dept": "nk", "hospital": "h3"}), s)).value
    assert days[0]["name"] == "11月26日 星期四" and days[0]["short"] == "11月26日周四"
    assert days[1]["short"] == "27日周五"  # the month only where it changes
    args = {"dept": "nk", "day": days[0]["id"], "session": "am", "id_number": valid_id(5),
            "hospital": "h3"}
    booked = await run(Effect("book", args), s)
    assert booked.ok, booked
    landed = await service.bookings_for(s.msisdn)
    assert [b.hospital_id for b in landed] == ["h3"]
    again = await run(Effect("hospital_start", {"entry": ""}), s)
    assert again.value["mode"] == "recent" and [h["id"] for h in again.value["recent"]] == ["h3"]
    mine = (await run(Effect("my_bookings", {}), s)).value
    assert mine == [{"id": booked.value["tcode"], "name": "中医院 内科 11月26日 上午"}]
