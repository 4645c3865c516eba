"""``hotline menus check|graph`` and ``hotline simulate``: one failing fixture per error class."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from commands.main import main

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "menus" / "check"
FIXTURES = sorted(CHECK.glob("*.yaml"))
SHIPPED = sorted((ROOT / "config" / "menus").glob("*.yaml"))
CLASSES = {
    "schema", "yaml_syntax", "unknown_target", "unreachable", "dead_end", "duplicate_key",
    "global_key", "paging_key", "missing_translation", "missing_prompt", "empty_text",
    "loop_no_wait",
}  # fmt: skip


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return f"{path}:{first.removeprefix('# expect: ')}"


def test_every_error_class_has_a_fixture() -> None:
    assert {p.stem for p in FIXTURES} == CLASSES


def _built_prompts(menu: Path, into: Path, *, recorded: tuple[str, ...] = ()) -> list[Any]:
    """A prompts dir as ``hotline prompts build`` leaves it (every static text), plus the
    ``recorded`` explicit prompt names in each language."""
    from menudesk.cli import needed_prompts
    from menus.definition import load_menu

    definition = load_menu(menu)
    named = {getattr(node, "prompt", None) for node in definition.nodes.values()}
    needed = needed_prompts(definition)
    names = [(i.lang, i.name) for i in needed if i.name not in named]
    names += [(lang, name) for name in recorded for lang in ("zh", "en")]
    for lang, name in names:
        (into / lang / f"{name}.sln").parent.mkdir(parents=True, exist_ok=True)
        (into / lang / f"{name}.sln").write_bytes(b"")
    return needed


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_check_fails_each_class_with_file_line_col(path: Path, tmp_path: Path, capsys) -> None:
    prompts: list[str] = []
    if path.stem == "missing_prompt":  # every text is built and 'welcome' recorded: not 'goodbye'
        _built_prompts(path, tmp_path, recorded=("welcome",))
        prompts = ["--prompts", str(tmp_path)]
    code = main(["menus", "check", *prompts, str(path)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert _expected(path) in out.splitlines()
    assert out.splitlines()[-1].startswith("1 file(s): 1 error(s)")


def test_a_static_text_without_its_built_prompt_file_is_an_error(tmp_path: Path, capsys) -> None:
    menu = CHECK / "missing_prompt.yaml"
    needed = _built_prompts(menu, tmp_path, recorded=("welcome", "goodbye"))
    args = ["menus", "check", "--prompts", str(tmp_path), str(menu)]
    assert main(args) == 0, capsys.readouterr().out
    gone = next(i for i in needed if i.name.startswith("hotline/") and i.lang == "en")
    (tmp_path / "en" / f"{gone.name}.sln").unlink()
    assert main(args) == 1
    assert (
        f"{menu}: error: en text {gone.text!r} has no prompt file en/{gone.name} "
        "(run hotline prompts build)"
    ) in capsys.readouterr().out.splitlines()


def test_shipped_menus_pass_with_no_warnings(capsys) -> None:
    assert SHIPPED
    assert main(["menus", "check", "--strict", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == f"{len(SHIPPED)} file(s): 0 error(s), 0 warning(s)"
    assert "warning" not in out.replace("0 warning(s)", "")


def test_warnings_are_not_errors_unless_strict(tmp_path: Path, capsys) -> None:
    menu = tmp_path / "long.yaml"
    menu.write_text(
        "menu: t\nlanguages: [zh]\nstart: a\nnodes:\n"
        f"  a: {{type: end, text: {{zh: {'长' * 90}}}}}\n",
        encoding="utf-8",
    )
    assert main(["menus", "check", str(menu)]) == 0
    out = capsys.readouterr().out
    assert f"{menu}:5:3: warning: node 'a': zh text is 90 characters (USSD budget 70)" in out
    assert main(["menus", "check", "--strict", str(menu)]) == 1
    assert main(["menus", "check", "--ussd-limit", "100", "--strict", str(menu)]) == 0


def test_graph_writes_mermaid_dot_and_falls_back_without_graphviz(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    menu = str(SHIPPED[0])
    assert main(["menus", "graph", menu, "-o", str(tmp_path / "m.mmd")]) == 0
    assert (tmp_path / "m.mmd").read_text(encoding="utf-8").startswith("flowchart TD\n")
    assert main(["menus", "graph", menu, "-o", str(tmp_path / "m.dot")]) == 0
    assert (tmp_path / "m.dot").read_text(encoding="utf-8").startswith('digraph "')
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz here
    assert main(["menus", "graph", menu, "-o", str(tmp_path / "x.svg")]) == 0
    assert "Graphviz 'dot' is not installed" in capsys.readouterr().out
    assert (tmp_path / "x.mmd").read_text(encoding="utf-8").startswith("flowchart TD\n")
    bad = str(CHECK / "unknown_target.yaml")
    assert main(["menus", "graph", bad, "-o", str(tmp_path / "y.mmd")]) == 1


CATALOG = """\
hospital:
  name: {zh: 测试医院, en: Test hospital}
  remote_share: 1.0
sessions:
  am: {label: {zh: 上午, en: morning}, places: 5}
  pm: {label: {zh: 下午, en: afternoon}, places: 5}
departments:
  - id: nk
    name: {zh: 内科, en: Internal medicine}
"""


def _core(redis) -> tuple[Any, Any]:
    """The real booking service on ``redis`` and a Dialogue over the shipped menus."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from twisted.internet.task import Clock

    from booking.catalog import parse_catalog
    from booking.store import RedisBookingService
    from dialogue.effects import make_effect_runner
    from hotline.app import VALIDATORS
    from menus.definition import MenuSource
    from menus.driver import Dialogue

    clock = Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    booking = RedisBookingService(redis, parse_catalog(CATALOG, "t.yaml"), clock)
    dialogue = Dialogue(MenuSource.from_paths(SHIPPED), make_effect_runner(booking), VALIDATORS)
    return booking, dialogue


async def _screens(dialogue: Any, keys: list[str]) -> list[str]:
    """The USSD screens one session shows while answering ``keys``."""
    from menus.types import Digits

    session, out = await dialogue.begin("booking", channel="ussd", msisdn="8613912345678")
    screens = [out.text()]
    for key in keys:
        session, out = await dialogue.resume(session, Digits(key))
        screens.append(out.text())
    assert out.ends, screens
    return screens


@pytest_twisted.ensureDeferred
async def test_register_then_book_in_five_screens_then_cancel_on_the_real_core(redis) -> None:
    booking, dialogue = _core(redis)
    reg = await _screens(dialogue, ["3", "11010519491231002*", "1"])
    assert "11010519491231002X" in reg[2] and reg[-1].startswith("登记成功：身份证尾号002X")
    assert await booking.registered_ids("8613912345678") == ["11010519491231002X"]
    booked = await _screens(dialogue, ["1", "1", "1", "1"])
    assert len(booked) == 5 and booked[3].startswith("为身份证尾号002X预约内科")
    from ussd.paging import ScreenLimits, paginate

    pages = [paginate(screen.split("\n"), ScreenLimits(ucs2=70)) for screen in booked]
    assert all(len(page) <= 70 for screen in pages for page in screen), pages
    tcode = re.findall(r"(?<!\d)\d{10}(?!\d)", booked[-1])[-1]
    mine = await _screens(dialogue, ["2", "1", "1", "1"])
    assert mine[1].startswith("您的预约") and tcode in mine[2]
    assert mine[-1].startswith("已取消内科")
    assert await booking.bookings_for("8613912345678") == []


async def _walk(redis, channel: str, keys: list[str], lang: str | None = None) -> tuple[str, Any]:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from twisted.internet.task import Clock

    from booking.catalog import parse_catalog
    from booking.store import RedisBookingService
    from dialogue.effects import make_effect_runner
    from hotline.app import VALIDATORS
    from menudesk.simulate import walk
    from menus.definition import MenuSource
    from menus.driver import Dialogue

    clock = Clock()
    clock.advance(dt.datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    booking = RedisBookingService(redis, parse_catalog(CATALOG, "t.yaml"), clock)
    dialogue = Dialogue(MenuSource.from_paths(SHIPPED), make_effect_runner(booking), VALIDATORS)
    pending = list(keys)
    shown: list[str] = []

    async def read(prompt: str) -> str | None:
        shown.append(prompt)
        return pending.pop(0) if pending else None

    await walk(
        dialogue, "booking", channel=channel, msisdn="8613912345678", lang=lang,
        read=read, write=shown.append,
    )  # fmt: skip
    return "".join(shown), booking


@pytest_twisted.ensureDeferred
async def test_simulate_ussd_books_against_the_real_core(redis) -> None:
    out, booking = await _walk(redis, "ussd", ["1", "1", "1", "1", "11010519491231002*", "1"])
    assert "--- CON" in out and "--- END" in out and "预约成功" in out
    tcode = re.findall(r"(?<!\d)\d{10}(?!\d)", out)[-1]
    assert [b.tcode for b in await booking.bookings_for("8613912345678")] == [tcode]


@pytest_twisted.ensureDeferred
async def test_simulate_ivr_shows_speech_waits_and_asks_the_transfer_outcome(redis) -> None:
    out, _ = await _walk(redis, "ivr", ["0", "busy", "", "q"], lang="en")
    assert "say [prompt welcome]: Welcome" in out
    assert "[waits for 1 key(s); first key within 5 s, then 3 s between keys]" in out
    assert "transfer to operator: outcome" in out
    assert "All our operators are busy" in out
    assert "We did not hear your entry." in out  # the empty line was a no-input
    assert "[caller hung up]" in out


def test_journey_bench_books_in_six_screens_new_and_five_returning() -> None:
    """bench/journey.py on the real core and the shipped hospitals: a new caller books in ≤ 6
    USSD screens choosing the hospital from the list or by code, a returning caller in ≤ 5,
    every screen one page of ≤ 70 characters; the voice booking ends with its T-code."""
    import subprocess
    import sys

    from tests.ivr.voice_sounds import built_sounds

    sounds, _ = built_sounds()  # the bench sums the built files (brought up to date, cached)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "journey.py"), "--sounds", str(sounds)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1]
    fields = dict(kv.split("=") for kv in last.removeprefix("BENCH journey ").split())
    assert last.startswith("BENCH journey ")
    assert int(fields["screens_new_list"]) <= 6 and int(fields["screens_new_code"]) <= 6
    assert int(fields["screens_returning"]) <= 5
    assert int(fields["max_pages"]) == 1 and int(fields["max_chars"]) <= 70
    assert int(fields["speech_chars"]) > 0
    # a returning caller's booking heard to the end, on the bench's pinned date (a full list
    # of seven days, the month said once; bench/RESULTS.md); pieces join closely
    assert float(fields["audio_s"]) > 30 and float(fields["audio_s_yue"]) > 0
    assert float(fields["audio_s_en"]) > 0 and 0 <= int(fields["max_gap_ms"]) <= 300


@pytest_twisted.ensureDeferred
async def test_simulate_ivr_through_fastagi_books_and_shows_the_agi_commands(redis) -> None:
    from twisted.internet import reactor

    from menudesk.simulate_call import call

    booking, dialogue = _core(redis)
    keys = ["1", "1", "1", "1", "11010519491231002*", "1"]
    shown: list[str] = []

    async def read(prompt: str) -> str | None:
        shown.append(prompt)
        return keys.pop(0) if keys else None

    sim = await call(
        reactor, dialogue, menu="booking", msisdn="13912345678", lang="zh",
        read=read, write=shown.append,
    )  # fmt: skip
    out = "".join(shown)
    assert "say [prompt welcome]: 欢迎使用12580预约挂号。" in out
    assert "    [agi] " in out and "say digits: " in out
    tcode = re.findall(r"(?<!\d)\d{10}(?!\d)", out.replace(" ", ""))[-1]
    assert [b.tcode for b in await booking.bookings_for("8613912345678")] == [tcode]
    assert sim.said_digits and keys == []
