"""The whole product with SMS over CMPP 2.0 (``sms.cmpp.simulator``, as ``hotline demo --cmpp``):
a USSD booking's T-code SMS and its reminder go out over CMPP to the loopback ISMG, status
reports close the outbox entries, and the patient's "QX <T-code>" cancels the booking."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest_twisted
import treq
from twisted.internet import task

from booking.api import BookingStatus
from booking.idcard import check_char
from hotline.app import start
from notify.events import REMINDERS
from settings.schema import SettingsError, load_settings
from sms.cmpp.ismg import IsmgFactory
from sms.redis_outbox import RedisOutbox

ROOT = Path(__file__).resolve().parents[2]
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
PHONE = "13800138000"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


async def until(predicate: Any, what: str, limit: float = 10.0) -> None:
    for _ in range(int(limit / 0.02)):
        if await predicate():
            return
        await task.deferLater(reactor(), 0.02, lambda: None)
    raise AssertionError(f"timed out waiting for {what}")


async def book(port: int, session: str, id_number: str) -> str:
    inputs: list[str] = []
    for _ in range(12):
        form = {"sessionId": session, "serviceCode": "*12580#", "phoneNumber": PHONE,
                "networkCode": "46000", "text": "*".join(inputs)}
        response = await treq.post(f"http://127.0.0.1:{port}/ussd/at", data=form)
        reply = await response.text("utf-8")
        if reply.startswith("END "):
            return reply
        inputs.append(id_number.replace("X", "*") if "身份证号码" in reply else "1")
    raise AssertionError(f"no END after {inputs}")


def ismg_of(running: Any) -> IsmgFactory:
    """The simulator listening on the port the app reports."""
    from twisted.internet import reactor as r

    for reader in r.getReaders():
        factory = getattr(reader, "factory", None)
        if isinstance(factory, IsmgFactory) and reader.getHost().port == running.smsc_port:
            return factory
    raise AssertionError("no ISMG simulator listening")


@pytest_twisted.ensureDeferred
async def test_booking_sms_reminder_receipts_and_mo_cancel_over_cmpp(redis, redis_url,
                                                                      tmp_path) -> None:
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "sms": {"cmpp": {"simulator": True, "service_id": "HLYY", "src_id": "1065812580"}},
        "data_dir": str(tmp_path)})
    seen: list[tuple[str, str, str]] = []
    running = await start(settings, reactor(), on_sms=lambda to, src, text: seen.append(
        (to, src, text)))
    outbox = RedisOutbox(redis, reactor())
    try:
        ismg = ismg_of(running)
        first17 = "44030519900101077"
        end = await book(running.http_port, "cmpp-e2e", first17 + check_char(first17))
        match = TCODE.search(end)
        assert match, end
        tcode = match.group(0)

        async def sms_count(n: int) -> bool:
            return len(seen) >= n

        await until(lambda: sms_count(1), "the T-code SMS")
        to, source, text = seen[0]
        assert to.endswith(PHONE) and source == "1065812580" and tcode in text
        submit = ismg.submits[0]
        assert submit.msg_fmt == 8 and submit.service_id == "HLYY"

        async def delivered(key: str) -> bool:
            return (await outbox.state(key)).get("state") == "delivered"

        await until(lambda: delivered(f"booked:{tcode}"), "the report closing the entry")

        # The reminder comes due (moved to now) and goes out over CMPP too.
        await redis.execute_command("ZADD", REMINDERS, "0", tcode)
        await until(lambda: sms_count(2), "the reminder")
        assert tcode in seen[1][2] and "QX" in seen[1][2]
        await until(lambda: delivered(f"reminder:{tcode}"), "the reminder's report")

        # The patient answers "QX <T-code>": a DELIVER from the ISMG, answered and obeyed.
        assert ismg.deliver_mo("86" + PHONE, "1065812580", f"QX{tcode}") == 1
        await until(lambda: sms_count(3), "the cancellation reply")
        reply = seen[2][2]  # the cancellation notice is the reply: one SMS for one action
        assert tcode in reply and "已取消" in reply and "无法" not in reply, reply
        mine = [b for b in await running.booking.bookings_for("86" + PHONE) if b.tcode == tcode]
        assert [b.status for b in mine] in ([], [BookingStatus.CANCELLED])
        assert ismg.violations == []
        assert all(not p.unanswered for p in ismg.connections)  # every DELIVER answered
    finally:
        await running.stop()


def test_smpp_and_cmpp_together_is_a_clear_error() -> None:
    try:
        load_settings(None, {"sms": {"smpp": {"host": "smsc"}, "cmpp": {"simulator": True}}})
    except SettingsError as err:
        assert "alternatives" in str(err)
    else:
        raise AssertionError("both protocols were accepted")


def test_a_real_ismg_needs_sp_code_and_secret() -> None:
    for cmpp, why in (({"shared_secret": "x"}, "sp_id"), ({"sp_id": "901234"}, "shared_secret"),
                      ({"sp_id": "901234", "shared_secret": "x", "version": "3.0"}, "2.0"),
                      ({"sp_id": "901234", "shared_secret": "x", "host2": 1}, "host2")):
        try:
            load_settings(None, {"sms": {"cmpp": cmpp}})
        except SettingsError as err:
            assert why in str(err)
        else:
            raise AssertionError(f"accepted {cmpp}")
