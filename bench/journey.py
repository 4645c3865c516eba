"""The booking journey on the shipped menus: screens, characters and spoken length.

    .venv/bin/python bench/journey.py [--menu config/menus/booking.yaml] [--msisdn 8613800138000]
        [--today 2026-12-04]

Runs the real booking core (an embedded redis-server without persistence, the demo hospital
catalog, its clock pinned to 09:00 of ``--today`` so every run offers the same days, the shipped
menus through ``menus.driver.Dialogue``) and walks the happy path twice: (a) a registered caller
(one ID bound to the phone: dial, department, date, session, done) and,
as the baseline, (b) a first-time caller who keys the 18-digit ID and confirms. Each USSD screen
is paged as the gateway pages it (``ussd.paging``, 70 UCS2 characters); ``max_chars`` is the
longest page the caller is shown. The same keys are then played through the IVR channel's view
(the ``Say`` texts and the digits read one by one); ``speech_chars`` is the spoken length of the
registered path. ``audio_s`` is how long the registered caller's booking plays in Mandarin if
he hears every prompt to the end, summed from the built sound files (``hotline prompts build``
into ``--sounds``, only what changed is rebuilt; the files the call would play, pieces of
sentences with call data included), ``audio_s_en``/``audio_s_yue`` the same in English and
Cantonese, ``max_gap_ms`` the longest silence where two pieces join (the trailing silence of
one plus the leading silence of the next). Last line:
``BENCH journey screens=<n> max_chars=<n> speech_chars=<n> audio_s=<s> audio_s_en=<s>
audio_s_yue=<s> max_gap_ms=<ms>``.
"""

from __future__ import annotations

import argparse
import datetime
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


async def walk(
    dialogue: Any, channel: str, msisdn: str, keys: list[str], lang: str = "zh"
) -> list[Any]:
    """The outputs of one session answering ``keys`` in order (stops at the end)."""
    session, output = await dialogue.begin("booking", channel=channel, msisdn=msisdn, lang=lang)
    outputs = [output]
    for key in keys:
        if output.ends:
            break
        from menus.types import Digits

        session, output = await dialogue.resume(session, Digits(key))
        outputs.append(output)
    return outputs


QUIET = 184  # |sample| below -45 dBFS counts as silence (the build trims at -45 dB too)


def _edges(path: Path) -> tuple[float, float, float]:
    """(seconds, leading silence, trailing silence) of an 8 kHz 16-bit mono .sln file."""
    import array

    samples = array.array("h")
    samples.frombytes(path.read_bytes())
    if sys.byteorder == "big":
        samples.byteswap()
    loud = [i for i, s in enumerate(samples) if abs(s) >= QUIET]
    if not loud:
        return len(samples) / 8000, len(samples) / 8000, 0.0
    return len(samples) / 8000, loud[0] / 8000, (len(samples) - 1 - loud[-1]) / 8000


def audio(outputs: list[Any], lang: str, sounds: Path, lex: Any) -> tuple[float, float]:
    """(seconds played, longest join silence) of a voice walk, from the built files."""
    from ivr.render import clips

    total, gap, previous_tail = 0.0, 0.0, None
    for output in outputs:
        for clip in clips(output.parts, lang, lex):
            names = [f"digits/{d}" for d in clip.digits if d.isdigit()] if clip.digits else [
                clip.name
            ]
            for name in names:
                path = sounds / lang / f"{name}.sln"
                if not path.is_file():
                    raise SystemExit(f"{lang}/{name}: not built (the call would be silent here)")
                seconds, lead, tail = _edges(path)
                total += seconds
                if previous_tail is not None:
                    gap = max(gap, previous_tail + lead)
                previous_tail = tail
        previous_tail = None  # the caller answers between outputs: not a join
    return total, gap


def build_sounds(menu: Path, catalog: Path, sounds: Path) -> None:
    from booking.catalog import load_catalog
    from hotline.cli_prompts import prompt_items
    from ivr.prompts import build
    from menus.definition import load_menu

    build(prompt_items([load_menu(menu)], load_catalog(catalog)), sounds, jobs=2)


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


class PinnedClock:
    """Booking's now: 09:00 at the hospital on ``today``, so the days offered, and with them the
    words a caller hears, are the same in every run (their length changes with the date)."""

    def __init__(self, today: str, tz: Any) -> None:
        day = datetime.date.fromisoformat(today)
        self._at = datetime.datetime.combine(day, datetime.time(9), tzinfo=tz).timestamp()

    def seconds(self) -> float:
        return self._at


async def main(reactor: Any, args: argparse.Namespace) -> None:
    from booking.catalog import load_catalog
    from booking.store import RedisBookingService
    from hotline import redis_client
    from hotline.app import VALIDATORS
    from hotline.effects import booking_dialogue
    from hotline.redis_server import RedisProcess
    from ivr.prompt_texts import lexicons
    from menus.definition import MenuSource, load_menu

    scratch = Path(tempfile.mkdtemp(prefix="hotline-journey-"))
    server = started(RedisProcess(data_dir=scratch, durable=False).start())
    try:
        redis = await redis_client.connect(server.url)
        catalog = load_catalog(args.catalog)
        booking = RedisBookingService(redis, catalog, clock=PinnedClock(args.today, catalog.tz))
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
        build_sounds(args.menu, args.catalog, args.sounds)
        lex = lexicons([load_menu(args.menu)], load_catalog(args.catalog))  # as the server has
        heard: dict[str, float] = {}
        max_gap = 0.0
        for lang in ("zh", "en", "yue"):
            outputs = await walk(dialogue, "ivr", registered, ["1", "3", "1", "1"], lang)
            if not outputs[-1].ends:
                raise SystemExit(f"voice walk in {lang} did not end")
            heard[lang], gap = audio(outputs, lang, args.sounds, lex[lang])
            max_gap = max(max_gap, gap)
            print(f"voice {lang}, registered caller: {heard[lang]:.1f} s of audio heard "
                  f"(every prompt to the end), longest join silence {gap * 1000:.0f} ms")
        await redis.disconnect()
        print(f"BENCH journey screens={screens} max_chars={longest} speech_chars={speech} "
              f"audio_s={heard['zh']:.1f} audio_s_en={heard['en']:.1f} "
              f"audio_s_yue={heard['yue']:.1f} max_gap_ms={max_gap * 1000:.0f}")
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
    parser.add_argument("--today", default="2026-12-04",
                        help="the hospital's date the caller books on (the days offered follow)")
    parser.add_argument("--sounds", type=Path, default=ROOT / "prompts" / "sounds",
                        help="the built sound set (built or brought up to date first)")
    react(lambda reactor: defer.ensureDeferred(main(reactor, parser.parse_args())))
