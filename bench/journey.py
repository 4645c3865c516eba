"""The booking journeys on the shipped menus: screens, pages, characters and spoken length.

    .venv/bin/python bench/journey.py [--menu config/menus/booking.yaml] [--catalog PATH]
        [--msisdn 8613800138000] [--today 2026-12-04]

Runs the real booking core (an embedded redis-server without persistence, the hospitals of
``--catalog``: the demo platform folder ``config/hospitals`` when it exists, else the single
``config/hospital.yaml``; its clock pinned to 09:00 of ``--today`` so every run offers the same
days; the shipped menus through ``menus.driver.Dialogue``) and walks the happy path of callers
whose phone has one registered ID: (a) a new caller who picks the first hospital of the list,
(b) a new caller who keys another hospital's code (``*<code>``), (c) a returning caller (a) who
books again at his recent hospital, offered on the welcome screen; and, as the baseline, a
first-time caller who keys the 18-digit ID and confirms. On a platform of one hospital no
hospital is asked for, so (a) and (b) are the same walk. Each USSD screen is paged as the
gateway pages it (``ussd.paging``, 70 UCS2 characters); ``max_pages`` is the most pages any
screen of (a)-(c) needed (the goal: 1), ``max_chars`` the longest page shown. The returning
caller's keys are then played through the IVR channel's view (the ``Say`` texts and the digits
read one by one); ``speech_chars`` is its spoken length. ``audio_s`` is how long that booking
plays in Mandarin if he hears every prompt to the end, summed from the built sound files
(``hotline prompts build`` into ``--sounds``, only what changed is rebuilt; the files the call
would play, pieces of sentences with call data included), ``audio_s_en``/``audio_s_yue`` the
same in English and Cantonese, ``max_gap_ms`` the longest silence where two pieces join (the
trailing silence of one plus the leading silence of the next). Last line:
``BENCH journey screens_new_list=<n> screens_new_code=<n> screens_returning=<n> max_pages=<n>
max_chars=<n> speech_chars=<n> audio_s=<s> audio_s_en=<s> audio_s_yue=<s> max_gap_ms=<ms>``.
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


def resident_id(n: int) -> str:
    """A valid resident ID of its own for the ``n``-th caller (the per-person caps stay out of
    the way: each caller books with his own ID)."""
    from booking.idcard import check_char

    first17 = f"11010519800101{n:03d}"
    return first17 + check_char(first17)


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
    from booking.catalog import load_platform
    from ivr.prompt_texts import prompt_items
    from ivr.prompts import build
    from menus.definition import load_menu

    build(prompt_items([load_menu(menu)], load_platform(catalog)), sounds, jobs=2)


def report(name: str, outputs: list[Any]) -> tuple[int, int, int]:
    """(screens, most pages of one screen, longest page) of a walk that must end booked."""
    from ussd.paging import ScreenLimits, paginate
    from ussd.render import screen_lines

    limits = ScreenLimits()
    longest = most = 0
    print(f"{name}:")
    for i, output in enumerate(outputs, start=1):
        pages = paginate(screen_lines(output), limits, "zh", ends=output.ends)
        longest = max([longest, *(len(page) for page in pages)])
        most = max(most, len(pages))
        head = output.text().splitlines()[0]
        print(f"  screen {i}: {len(output.text()):3d} chars, {len(pages)} page(s), longest "
              f"{max(len(page) for page in pages)}: {head}")
    ended = outputs[-1].ends and "取号码" in outputs[-1].text()
    print(f"  -> {len(outputs)} screens, at most {most} page(s) each, longest page {longest} "
          f"chars, booked={ended}")
    if not ended:
        raise SystemExit(f"{name}: the walk did not end with a T-code")
    return len(outputs), most, longest


class PinnedClock:
    """Booking's now: 09:00 at the hospital on ``today``, so the days offered, and with them the
    words a caller hears, are the same in every run (their length changes with the date)."""

    def __init__(self, today: str, tz: Any) -> None:
        day = datetime.date.fromisoformat(today)
        self._at = datetime.datetime.combine(day, datetime.time(9), tzinfo=tz).timestamp()

    def seconds(self) -> float:
        return self._at


async def main(reactor: Any, args: argparse.Namespace) -> None:
    from booking.catalog import load_platform
    from booking.store import RedisBookingService
    from dialogue.effects import booking_dialogue
    from hotline.app import VALIDATORS
    from ivr.prompt_texts import lexicons
    from menus.definition import MenuSource, load_menu
    from menus.types import SayDigits
    from storage import client as redis_client
    from storage.embedded import RedisProcess

    scratch = Path(tempfile.mkdtemp(prefix="hotline-journey-"))
    server = started(RedisProcess(data_dir=scratch, durable=False).start())
    try:
        redis = await redis_client.connect(server.url)
        platform = load_platform(args.catalog)
        tz = platform.hospitals[0].tz
        booking = RedisBookingService(redis, platform, clock=PinnedClock(args.today, tz))
        dialogue = booking_dialogue(MenuSource([load_menu(args.menu)]), booking, reactor,
                                    VALIDATORS)
        several = not platform.single
        pick = ["1"] if several else []  # the first hospital of the list
        code = [f"*{platform.hospitals[-1].code}"] if several else []  # another one, by code
        phones = iter(range(10))

        async def caller() -> str:
            n = next(phones)
            msisdn = args.msisdn[:-2] + f"{n:02d}"
            await booking.register(msisdn, resident_id(n))
            return msisdn

        newcomer = args.msisdn[:-2] + "99"  # no registered ID: keys it and confirms
        keyed = ID_NUMBER.replace("X", "*")
        base = await walk(dialogue, "ussd", newcomer, ["1", *pick, "1", "1", "1", keyed, "1"])
        base_screens, _, base_chars = report("baseline: first-time caller (keys the ID)", base)
        regular = await caller()
        by_list = await walk(dialogue, "ussd", regular, ["1", *pick, "1", "1", "1"])
        list_screens, list_pages, list_chars = report("new caller, hospital from the list",
                                                      by_list)
        by_code = await walk(dialogue, "ussd", await caller(), ["1", *code, "1", "1", "1"])
        code_screens, code_pages, code_chars = report("new caller, hospital by its code",
                                                      by_code)
        again = await walk(dialogue, "ussd", regular, ["1", "1", "2", "1"])  # another day
        back_screens, back_pages, back_chars = report("returning caller, his recent hospital",
                                                      again)
        most = max(list_pages, code_pages, back_pages)
        longest = max(list_chars, code_chars, back_chars)
        build_sounds(args.menu, args.catalog, args.sounds)
        lex = lexicons([load_menu(args.menu)], platform)  # as the server has
        heard: dict[str, float] = {}
        max_gap, speech = 0.0, 0
        for lang in ("zh", "en", "yue"):
            phone = await caller()  # returning: booked once from the list, then calls
            await walk(dialogue, "ussd", phone, ["1", *pick, "1", "1", "1"])
            outputs = await walk(dialogue, "ivr", phone, ["1", "3", "1", "1"], lang)
            if not (outputs[-1].ends and any(isinstance(part, SayDigits)
                                             for part in outputs[-1].parts)):
                raise SystemExit(f"voice walk in {lang} did not end with a T-code")
            if lang == "zh":
                speech = sum(spoken(o) for o in outputs)
                print(f"voice, returning caller: {len(outputs)} turns, {speech} characters "
                      f"spoken (baseline screens {base_screens}, longest page {base_chars})")
            heard[lang], gap = audio(outputs, lang, args.sounds, lex[lang])
            max_gap = max(max_gap, gap)
            print(f"voice {lang}, returning caller: {heard[lang]:.1f} s of audio heard "
                  f"(every prompt to the end), longest join silence {gap * 1000:.0f} ms")
        await redis.disconnect()
        print(f"BENCH journey screens_new_list={list_screens} screens_new_code={code_screens} "
              f"screens_returning={back_screens} max_pages={most} max_chars={longest} "
              f"speech_chars={speech} audio_s={heard['zh']:.1f} audio_s_en={heard['en']:.1f} "
              f"audio_s_yue={heard['yue']:.1f} max_gap_ms={max_gap * 1000:.0f}")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    from twisted.internet import defer
    from twisted.internet.task import react

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--menu", type=Path, default=ROOT / "config" / "menus" / "booking.yaml")
    demo = ROOT / "config" / "hospitals"
    parser.add_argument("--catalog", type=Path,
                        default=demo if demo.is_dir() else ROOT / "config" / "hospital.yaml",
                        help="a platform folder or one hospital file")
    parser.add_argument("--msisdn", default="8613800138000")
    parser.add_argument("--today", default="2026-12-04",
                        help="the hospital's date the caller books on (the days offered follow)")
    parser.add_argument("--sounds", type=Path, default=ROOT / "prompts" / "sounds",
                        help="the built sound set (built or brought up to date first)")
    react(lambda reactor: defer.ensureDeferred(main(reactor, parser.parse_args())))
