"""The composition root wires once and then stays out of the way: a USSD booking, hop after
hop over real HTTP, and its confirmation SMS on its way to the SMSC run no code of ``hotline/``
(docs/architecture.md, "Where things are handled"). A closure or helper of the wiring that ends
up on that path fails here."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest_twisted
import treq
from twisted.internet.task import deferLater

from booking.idcard import check_char
from hotline.app import start
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = str(ROOT / "hotline") + "/"


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


class CodeSeen:
    """Every function of ``hotline/`` that runs while recording (``sys.setprofile``)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(HOTLINE):
            code = frame.f_code
            self.seen.add(f"{code.co_filename[len(HOTLINE):]}:{code.co_firstlineno} "
                          f"{code.co_name}")

    async def during(self, work: Any) -> Any:
        sys.setprofile(self)
        try:
            return await work
        finally:
            sys.setprofile(None)


@pytest_twisted.ensureDeferred
async def test_a_ussd_booking_runs_no_code_of_the_composition_root(redis_url, tmp_path) -> None:
    settings = load_settings(ROOT / "config/hotline.yaml", {
        "redis": {"url": redis_url}, "http": {"port": 0}, "ivr": {"fastagi": {"port": 0}},
        "data_dir": str(tmp_path)})
    received: list[str] = []
    running = await start(settings, reactor(),
                          on_sms=lambda to, source, text: received.append(text))
    url = f"http://127.0.0.1:{running.http_port}/ussd/at"
    first17 = "44030519900101077"
    id_number = first17 + check_char(first17)
    recorder = CodeSeen()
    try:
        inputs: list[str] = []
        reply = ""
        for _ in range(12):
            form = {"sessionId": "hop-path", "serviceCode": "*12580#",
                    "phoneNumber": "13800138077", "networkCode": "46000",
                    "text": "*".join(inputs)}
            response = await recorder.during(treq.post(url, data=form))
            reply = await recorder.during(response.text("utf-8"))
            assert response.code == 200, reply
            if reply.startswith("END "):
                break
            inputs.append(id_number.replace("X", "*") if "身份证号码" in reply else "1")
        assert reply.startswith("END ") and "取号码" in reply, reply  # booked: the T-code
        for _ in range(200):  # the confirmation: event, outbox, SMPP, the SMSC simulator
            if received:
                break
            await recorder.during(deferLater(reactor(), 0.01, lambda: None))
        assert len(received) == 1 and reply.split("：")[-1].strip() in received[0], received
    finally:
        await running.stop()
    assert recorder.seen == set(), sorted(recorder.seen)
