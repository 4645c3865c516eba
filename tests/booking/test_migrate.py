"""``hotline booking migrate``: a data set written by the single-hospital core, moved to the keys
of hospital ``main``; idempotent, and finished by a second run after a crash half-way.

``data/single_hospital.json`` holds every key the previous core (commit 3205d63) wrote in a
scenario (``data/capture_single_hospital.py``): confirmed and held bookings, a cancelled place
waiting to return, a bar earned by cancels, an admin share, no-show and kiosk bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from booking_support import TOMORROW, make_id, phone
from twisted.internet.task import Clock

from booking.api import BookingError, BookingRequest
from booking.catalog import parse_catalog
from booking.keys import HospitalKeys
from booking.migrate import migrate, new_name
from booking.store import RedisBookingService

DATA = json.loads((Path(__file__).parent / "data" / "single_hospital.json").read_text("utf-8"))
CAPTURE = (Path(__file__).parent / "data" / "capture_single_hospital.py").read_text("utf-8")
CATALOG = CAPTURE.split('CATALOG = """\\\n', 1)[1].split('"""', 1)[0]  # the scenario's own
PLATFORM_KEY = re.compile(r"^hl:(bk|pay|req|ph|pid|bl|rl):|^hl:(events|hospitals)$")


async def restore(redis: Any) -> None:
    await redis.flushdb()
    for item in DATA["keys"]:
        key, kind, value = item["key"], item["type"], item["value"]
        if kind == "string":
            await redis.set(key, value)
        elif kind == "hash":
            await redis.hmset(key, value)
        elif kind == "set":
            await redis.sadd(key, value)
        elif kind == "zset":
            for member, score in value:
                await redis.zadd(key, float(score), member)
        else:
            for fields in value:
                await redis.execute_command("XADD", key, "*", *fields)
        if item["pttl"] > 0:
            await redis.execute_command("PEXPIRE", key, item["pttl"])


async def snapshot(redis: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in sorted(await redis.keys("*")):
        kind = await redis.execute_command("TYPE", key)
        read = {"string": redis.get, "hash": redis.hgetall, "set": redis.smembers,
                "zset": lambda k: redis.zrange(k, 0, -1, withscores=True),
                "stream": lambda k: redis.execute_command("XRANGE", k, "-", "+")}[kind]
        value = await read(key)
        if kind == "stream":  # the entries, not the ids a restore gives them
            value = [fields for _, fields in value]
        out[key] = (kind, sorted(value) if kind == "set" else value)
    return out


def service_on(redis: Any, clock: Clock) -> RedisBookingService:
    return RedisBookingService(redis, parse_catalog(CATALOG, "hospital.yaml"), clock)


def test_old_names_map_to_the_hospitals_keys() -> None:
    k = HospitalKeys.of("main")
    assert new_name("hl:{nk:2026-12-05:am}:q", k) == "hl:{h:main}:q:nk:2026-12-05:am"
    assert new_name("hl:{nk:2026-12-05}:ids", k) == "hl:{h:main}:ids:nk:2026-12-05"
    assert new_name("hl:holds", k) == "hl:{h:main}:holds"
    assert new_name("hl:pid:" + "a" * 20 + ":bk", k) is None  # platform-wide by default
    assert new_name("hl:pid:" + "a" * 20 + ":bk", k, person_scope="hospital") == (
        "hl:{h:main}:pid:" + "a" * 20 + ":bk")
    assert new_name("hl:bl:index", k, blacklist_scope="hospital") == "hl:{h:main}:bl:index"
    for stays in ("hl:bk:1234567890", "hl:events", "hl:ph:8613900000001:bk", "hl:{h:main}:holds"):
        assert new_name(stays, k) is None


@pytest_twisted.ensureDeferred
async def test_the_old_data_set_moves_and_keeps_working(redis: Any, clock: Clock) -> None:
    await restore(redis)
    report = await migrate(redis)
    assert report.moved > 30 and report.bookings == 6 and report.conflicts == []
    after = await snapshot(redis)
    left = [k for k in after if not k.startswith("hl:{h:main}:") and not PLATFORM_KEY.match(k)]
    assert left == []
    again = await migrate(redis)  # idempotent: nothing changes
    assert not again.changed and again.conflicts == []
    assert await snapshot(redis) == after

    service = service_on(redis, clock)
    await service.refresh_shares()
    assert await service.reconcile() == []  # every counter agrees with its bookings
    mine = await service.bookings_for(phone(1))
    assert sorted(b.status.value for b in mine) == ["confirmed", "held"]
    assert {b.hospital_id for b in mine} == {"main"}
    assert await service.recent_hospitals(phone(1)) == ["main"]
    # share 0.5 of 63 = 31 remote places; ID 1 (confirmed) and ID 5 (held) hold two of them
    assert await service.remote_left("nk", TOMORROW, "am") == 29
    again_1 = BookingRequest("nk", TOMORROW, "am", make_id(1), phone(1), "ussd")
    with pytest.raises(BookingError, match="duplicate"):
        await service.book(again_1)
    replay = await service.book(BookingRequest("nk", TOMORROW, "am", make_id(1), phone(1),
                                               "ussd", "r-1"))  # fmt: skip
    assert replay.tcode in {b.tcode for b in mine}
    barred = BookingRequest("nk", TOMORROW + dt.timedelta(days=5), "am", make_id(4), phone(4),
                            "ussd")  # fmt: skip
    with pytest.raises(BookingError, match="blacklisted"):
        await service.book(barred)
    clock.advance(11 * 60)  # the holds' 10 minutes: the migrated hl:holds is swept
    assert await service.expire_due() == 2
    assert await service.remote_left("nk", TOMORROW, "am") == 30
    confirmed = next(b for b in mine if b.status.value == "confirmed")
    assert (await service.cancel(confirmed.tcode, msisdn=phone(1))).status.value == "cancelled"
    assert await service.reconcile() == []


@pytest_twisted.ensureDeferred
async def test_a_run_cut_off_half_way_is_finished_by_the_next(redis: Any) -> None:
    await restore(redis)
    await migrate(redis)
    whole = await snapshot(redis)

    await restore(redis)
    moved: list[str] = []

    def crash(old: str, new: str) -> None:
        moved.append(old)
        if len(moved) == 7:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        await migrate(redis, progress=crash)
    assert len(moved) == 7
    report = await migrate(redis)
    assert report.moved > 0 and report.conflicts == []
    assert await snapshot(redis) == whole


@pytest_twisted.ensureDeferred
async def test_another_hospital_id_and_a_dry_run(redis: Any) -> None:
    await restore(redis)
    before = await snapshot(redis)
    dry = await migrate(redis, "szyy", dry_run=True)
    assert dry.moved > 30 and dry.bookings == 6
    assert await snapshot(redis) == before
    done = await migrate(redis, "szyy")
    assert (done.moved, done.bookings) == (dry.moved, dry.bookings)
    assert await redis.exists("hl:{h:szyy}:holds")
    assert {(await redis.hget(k, "hospital")) for k in await redis.keys("hl:bk:*")} == {"szyy"}


@pytest_twisted.ensureDeferred
async def test_a_key_already_written_by_the_new_version_is_a_conflict(redis: Any) -> None:
    await restore(redis)
    await redis.zadd("hl:{h:main}:holds", 1.0, "1111111111")
    report = await migrate(redis)
    assert report.conflicts == ["hl:holds"]
    assert await redis.exists("hl:holds")  # left for the operator, nothing lost
