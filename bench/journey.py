"""The booking journey on the shipped menus: screens, characters and spoken length.

    .venv/bin/python bench/journey.py [--menu config/menus/booking.yaml] [--msisdn 8613800138000]

Runs the real booking core (an embedded redis-server without persistence, the demo hospital
catalog, the shipped menus through ``menus.driver.Dialogue``) and walks the happy path twice:
(a) a registered caller (one ID bound to the phone: dial, department, date, session, done) and,
as the baseline, (b) a first-time caller who keys the 18-digit ID and confirms. Each USSD screen
is paged as the gateway pages it (``ussd.paging``, 70 UCS2 characters); ``max_chars`` is the
longest page the caller is shown. The same keys are then played through the IVR channel's view
(the ``Say`` texts and the digits read one by one); ``speech_chars`` is the spoken length of the
registered path. Last line: ``BENCH journey screens=<n> max_chars=<n> speech_chars=<n>``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started  # noqa: E402

ID_NUMBER = "11010519491231002X"


def spoken(output: Any) -> int:
    from menus.types import Say

    return sum(len(p.text) if isinstance(p, Say) else len(p.digits) for p in output.parts)


async def walk(dialogue: Any, channel: str, msisdn: str, keys: list[str]) -> list[Any]:
    """The outputs of one session answering ``keys`` in order (stops at the end)."""
    session, output = await dialogue.begin("booking", channel=channel, msisdn=msisdn, lang="zh")
    outputs = [output]
    for key in keys:
        if output.ends:
            break
        from menus.types import Digits

        session, output = await dialogue.resume(session, Digits(key))
        outputs.append(output)
    return outputs


def report(name: str, outputs: list[Any]) -> tuple[int, int]:
    from ussd.paging import ScreenLimits, paginate
    from ussd.render import screen_lines

    limits = ScreenLimits()
    longest = 0
    print(f"{name}:")
    for i, output in enumerate(outputs, start=1):
        pages = paginate(screen_lines(output), limits, "zh", ends=output.ends)
        shown = len(pages[0])
        longest = max(longest, shown)
        head = output.text().splitlines()[0]
        print(f"  screen {i}: {len(output.text()):3d} chars, {len(pages)} page(s), first {shown}: "
              f"{head}")
    ended = outputs[-1].ends and "取号码" in outputs[-1].text()
    print(f"  -> {len(outputs)} screens, longest page {longest} chars, booked={ended}")
    if not ended:
        raise SystemExit(f"{name}: the walk did not end with a T-code")
    return len(outputs), longest


async def main(reactor: Any, args: argparse.Namespace) -> None:
    from booking.catalog import load_catalog
    from booking.store import RedisBookingService
    from hotline import redis_client
    from hotline.app import VALIDATORS
    from hotline.effects import booking_dialogue
    from hotline.redis_server import RedisProcess
    from menus.definition import MenuSource, load_menu

    scratch = Path(tempfile.mkdtemp(prefix="hotline-journey-"))
    server = started(RedisProcess(data_dir=scratch, durable=False).start())
    try:
        redis = await redis_client.connect(server.url)
        booking = RedisBookingService(redis, load_catalog(args.catalog), clock=reactor)
        dialogue = booking_dialogue(MenuSource([load_menu(args.menu)]), booking, reactor,
                                    VALIDATORS)
        registered, newcomer = args.msisdn, args.msisdn[:-1] + "9"
        await booking.register(registered, ID_NUMBER)
        keyed = ID_NUMBER.replace("X", "*")
        base = await walk(dialogue, "ussd", newcomer, ["1", "1", "1", "1", keyed, "1"])
        base_screens, base_chars = report("baseline: first-time caller (keys the ID)", base)
        happy = await walk(dialogue, "ussd", registered, ["1", "2", "1", "2"])
        screens, longest = report("registered caller", happy)
        voice = await walk(dialogue, "ivr", registered, ["1", "3", "1", "1"])
        speech = sum(spoken(o) for o in voice)
        print(f"voice, registered caller: {len(voice)} turns, {speech} characters spoken "
              f"(baseline screens {base_screens}, longest page {base_chars})")
        await redis.disconnect()
        print(f"BENCH journey screens={screens} max_chars={longest} speech_chars={speech}")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    from twisted.internet import defer
    from twisted.internet.task import react

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--menu", type=Path, default=ROOT / "config" / "menus" / "booking.yaml")
    parser.add_argument("--catalog", type=Path, default=ROOT / "config" / "hospital.yaml")
    parser.add_argument("--msisdn", default="8613800138000")
    react(lambda reactor: defer.ensureDeferred(main(reactor, parser.parse_args())))
