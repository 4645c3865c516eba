"""``hotline booking …`` and ``hotline schedule load`` as real processes against the test Redis."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest_twisted
from demo_booking import clock_at_now, demo_service, valid_id

from booking.api import BookingRequest
from booking.catalog import load_platform
from booking.store import RedisBookingService

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.date(2026, 11, 27)


def run_cli(
    *args: str, config: Path = ROOT / "config/hotline.yaml"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "commands.main", "--config", str(config), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@pytest_twisted.ensureDeferred
async def test_csv_fill_and_schedule_load(redis, redis_url: str, tmp_path: Path) -> None:
    service, _ = demo_service(redis)  # one hospital's file (id main), as the CLI below reads
    one = tmp_path / "one.yaml"
    one.write_text(f"catalog: {ROOT / 'config/hospital.yaml'}\n")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, config=one)

    codes = []
    for n in range(3):
        req = BookingRequest("nk", DAY, "am", valid_id(n), f"8613900001{n:03d}", "ussd")
        codes.append((await service.book(req)).tcode)

    exported = cli("booking", "--redis-url", redis_url, "csv", "--day", DAY.isoformat())
    assert exported.returncode == 0, exported.stderr
    lines = exported.stdout.strip().splitlines()
    assert lines[0] == "tcode,hospital,dept,day,session,status,channel,id,msisdn,created_at"
    assert len(lines) == 4 and valid_id(0) not in exported.stdout

    plan = tmp_path / "changes.csv"
    plan.write_text(f"dept,day,session,places\nnk,{DAY},am,2\nwk,{DAY},pm,closed\n")
    loaded = cli("schedule", "--redis-url", redis_url, "load", str(plan))
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert f"nk {DAY} am: places=2, cancelled 1" in loaded.stdout
    assert (await service._load(codes[-1])).status.value == "cancelled"  # the latest one

    fill = cli("booking", "--redis-url", redis_url, "fill", "--day", DAY.isoformat())
    rows = [json.loads(line) for line in fill.stdout.splitlines()]
    nk_am = next(r for r in rows if (r["dept"], r["session"]) == ("nk", "am"))
    wk_pm = next(r for r in rows if (r["dept"], r["session"]) == ("wk", "pm"))
    assert nk_am["places"] == 2 and wk_pm["closed"] is True

    bad = tmp_path / "bad.yaml"
    bad.write_text("- {dept: nk, day: 2026-11-27, session: am, places: 3}\n"
                   "- {dept: nk, day: 2026-11-27, session: pm, places: -3}\n")
    refused = cli("schedule", "--redis-url", redis_url, "load", str(bad))
    assert refused.returncode == 2 and "bad.yaml: row 2" in refused.stderr, refused.stderr
    bad.write_text("- {dept: nk, day: 2026-13-01, session: am, places: 3}\n")
    refused = cli("schedule", "--redis-url", redis_url, "load", str(bad))
    assert refused.returncode == 2 and "bad.yaml" in refused.stderr, refused.stderr


def test_booking_commands_need_a_redis_url() -> None:
    done = run_cli("booking", "reconcile")
    assert done.returncode == 2 and "redis.url" in done.stderr


@pytest_twisted.ensureDeferred
async def test_migrate_moves_a_single_hospital_data_set(redis, redis_url: str) -> None:
    await redis.hset("hl:{nk:2026-11-27:am}:q", "r", 1)
    await redis.hset("hl:bk:1234567890", "tcode", "1234567890")
    dry = run_cli("booking", "--redis-url", redis_url, "migrate", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would move 1 key(s) to hospital main, 1 booking(s)" in dry.stdout
    assert await redis.exists("hl:{nk:2026-11-27:am}:q")
    done = run_cli("booking", "--redis-url", redis_url, "migrate", "--hospital", "szyy")
    assert "moved 1 key(s) to hospital szyy, 1 booking(s)" in done.stdout, done.stderr
    assert await redis.hget("hl:{h:szyy}:q:nk:2026-11-27:am", "r") == "1"
    again = run_cli("booking", "--redis-url", redis_url, "migrate", "--hospital", "szyy")
    assert "moved 0 key(s) to hospital szyy, 0 booking(s)" in again.stdout
    bad = run_cli("booking", "--redis-url", redis_url, "migrate", "--hospital", "A:B")
    assert bad.returncode == 2 and "is not a hospital id" in bad.stderr


@pytest_twisted.ensureDeferred
async def test_csv_and_schedule_load_take_a_hospital(redis, redis_url: str, tmp_path: Path) -> None:
    config = tmp_path / "hotline.yaml"
    config.write_text(f"catalog: {ROOT / 'config/hospitals'}\n")
    service = RedisBookingService(redis, load_platform(ROOT / "config/hospitals"),
                                  clock_at_now())
    made = {h: (await service.book(BookingRequest(
        "nk", DAY, "am", valid_id(n), f"8613900002{n:03d}", "ussd", hospital_id=h))).tcode
        for n, h in enumerate(("sz-renmin", "ns-renmin"))}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "commands.main", "--config", str(config),
                               *args], cwd=tmp_path, capture_output=True, text=True, timeout=60)

    one = run("booking", "--redis-url", redis_url, "csv", "--day", DAY.isoformat(),
              "--hospital", "ns-renmin")
    assert one.returncode == 0, one.stderr
    assert made["ns-renmin"] in one.stdout and made["sz-renmin"] not in one.stdout
    every = run("booking", "--redis-url", redis_url, "csv", "--day", DAY.isoformat())
    assert all(code in every.stdout for code in made.values())

    plan = tmp_path / "close.csv"
    plan.write_text(f"dept,day,session,places\nnk,{DAY},am,closed\n")
    unnamed = run("schedule", "--redis-url", redis_url, "load", str(plan))
    assert unnamed.returncode == 1 and "unknown_hospital" in unnamed.stderr  # which one?
    loaded = run("schedule", "--redis-url", redis_url, "load", str(plan), "--hospital",
                 "ns-renmin")
    assert loaded.returncode == 0 and "cancelled 1" in loaded.stdout, loaded.stderr
    assert (await service._load(made["ns-renmin"])).status.value == "cancelled"
    assert (await service._load(made["sz-renmin"])).status.value == "confirmed"
