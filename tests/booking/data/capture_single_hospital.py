"""Write tests/booking/data/single_hospital.json: a data set made by the single-hospital core.

The migration test must start from keys written by the code that came before the hospital
dimension, not from keys a test imagines. This script runs that code (commit 3205d63) through a
scenario and dumps every key with its type, value and remaining TTL:

    git archive 3205d63 booking pii | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old:. .venv/bin/python tests/booking/data/capture_single_hospital.py

It needs a redis-server on the PATH (started on a free port, stopped at the end).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from twisted.internet import defer, task

HERE = Path(__file__).resolve().parent
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # as booking_support
TOMORROW = dt.date(2026, 11, 26)
CATALOG = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
  payment: pay_to_confirm
sessions:
  am: {label: {zh: 上午, en: morning}, places: 63}
  pm: {label: {zh: 下午, en: afternoon}, places: 3}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
  - id: yk
    name: {zh: 眼科, en: Ophthalmology}
    sessions: {pm: 0}
limits: {cancel_count: 2, per_7_days: 9, per_90_days: 9}
"""


def make_id(n: int) -> str:
    from booking.idcard import check_char

    first17 = f"110105{1980 + n // 1000:04d}0101{n % 1000:03d}"
    return first17 + check_char(first17)


def phone(n: int) -> str:
    return f"86139{n:08d}"


async def dump(redis) -> list[dict]:
    out = []
    for key in sorted(await redis.keys("*")):
        kind = await redis.execute_command("TYPE", key)
        if kind == "string":
            value = await redis.get(key)
        elif kind == "hash":
            value = await redis.hgetall(key)
        elif kind == "set":
            value = sorted(await redis.smembers(key))
        elif kind == "zset":
            pairs = await redis.zrange(key, 0, -1, withscores=True)
            value = [[m, repr(float(s))] for m, s in pairs]
        elif kind == "stream":
            entries = await redis.execute_command("XRANGE", key, "-", "+")
            value = [f for _, f in entries]
        else:
            raise SystemExit(f"unexpected type {kind} of {key}")
        out.append({"key": key, "type": kind, "value": value,
                    "pttl": await redis.execute_command("PTTL", key)})
    return out


async def main(reactor) -> None:
    from twisted.internet.task import Clock

    from booking.catalog import parse_catalog
    from booking.store import RedisBookingService
    from storage.client import connect
    from storage.embedded import RedisProcess

    with tempfile.TemporaryDirectory() as tmp, RedisProcess(Path(tmp), durable=False) as server:
        redis = await connect(server.url)
        clock = Clock()
        clock.advance(NOW.timestamp())
        service = RedisBookingService(redis, parse_catalog(CATALOG, "old.yaml"), clock)
        b = service.book
        from booking.api import BookingRequest as R

        def req(n: int, day: dt.date = TOMORROW, session: str = "am", dept: str = "nk", **kw):
            return R(dept, day, session, make_id(n), kw.get("msisdn", phone(n)), "ussd",
                     kw.get("request_key", ""))

        await service.register(phone(1), make_id(2))
        paid = await b(req(1, request_key="r-1"))
        await service.confirm_payment(paid.tcode, "txn-1")
        await b(req(2, session="pm", msisdn=phone(1)))  # stays held: hl:holds
        later = await b(req(3, day=TOMORROW + dt.timedelta(days=2), dept="yk"))
        await service.confirm_payment(later.tcode, "txn-3")
        await service.cancel(later.tcode, msisdn=phone(3))  # its place returns later: :ret
        for n in (1, 3):  # two cancels of confirmed bookings bar ID 4
            made = await b(req(4, day=TOMORROW + dt.timedelta(days=n)))
            await service.confirm_payment(made.tcode, f"txn-4-{n}")
            await service.cancel(made.tcode, msisdn=phone(4))
        await service.set_share("nk", 0.5)
        await service.book(req(5, session="am", dept="nk", msisdn=phone(5)))
        await service.sweep_no_shows()
        with contextlib.suppress(Exception):  # a wrong code: the kiosk failure counters
            await service.verify("0000000000", kiosk_id="k1")
        data = await dump(redis)
        await redis.disconnect()
    (HERE / "single_hospital.json").write_text(
        json.dumps({"now": NOW.timestamp(), "keys": data}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"{len(data)} keys")


if __name__ == "__main__":
    task.react(lambda reactor: defer.ensureDeferred(main(reactor)))
