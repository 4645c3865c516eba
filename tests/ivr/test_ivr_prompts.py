"""Prompt lists match what calls ask for; the build renders, caches, overrides and explains."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.prompt_texts import WORDS, PromptText, menu_prompts, word_prompts
from ivr.prompts import MANIFEST, PromptToolsMissing, available_prompts, build, find_tools
from ivr.render import prompt_name
from menus.definition import load_menu
from menus.types import Say

ROOT = Path(__file__).resolve().parents[2]
TOOLS = shutil.which("espeak-ng") and shutil.which("sox")
needs_tools = pytest.mark.skipif(
    not TOOLS, reason="espeak-ng and sox not installed (apt-get install -y espeak-ng sox)"
)


def booking_menu():
    return load_menu(ROOT / "config/menus/booking.yaml")


def test_menu_prompts_use_the_names_a_call_asks_for() -> None:
    prompts, dynamic = menu_prompts(booking_menu(), item_lists={"zh": [["外科", "内科"]]})
    names = {(p.lang, p.name) for p in prompts}
    assert ("zh", "welcome") in names and ("en", "welcome") in names  # recorded-name prompts
    line = Say("内科请按2。")  # a list line the engine renders for item 2 (item_ivr)
    assert ("zh", prompt_name(line, "zh")) in names
    assert ("zh", prompt_name(Say("内科请按1。"), "zh")) in names  # 外科 filtered out
    assert ("zh", prompt_name(Say("外科请按2。"), "zh")) not in names  # never second
    assert any("{dept.name}" in text for text in dynamic)  # call data: reported, not built
    tcode_intro = [p for p in prompts if p.text.endswith("取号码：")]
    assert tcode_intro, "the text before a {digits:...} read-back is static and is built"


def test_word_prompts_cover_digits_and_dates() -> None:
    words = {(p.lang, p.name): p.text for p in word_prompts(["zh", "en"])}
    assert [words[("zh", f"digits/{d}")] for d in "0123"] == ["零", "幺", "二", "三"]
    assert words[("en", "digits/7")] == "seven" and words[("zh", "letters/x")] == "叉"
    assert ("zh", "hotline/words/weekday_6") in words and len(WORDS["zh"]) > 50


def test_missing_tools_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PromptToolsMissing, match=r"espeak-ng and sox not found.*apt-get install"):
        find_tools()


def test_cli_says_what_is_missing(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "prompts", "build", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/nonexistent"},
        timeout=60,
    )
    assert out.returncode == 2
    assert "espeak-ng and sox not found" in out.stderr and "apt-get install" in out.stderr


@needs_tools
def test_build_renders_8khz_sln_and_rebuilds_only_what_changed(tmp_path: Path) -> None:
    items = [PromptText("zh", "welcome", "欢迎致电"), PromptText("en", "digits/1", "one")]
    first = build(items, tmp_path, jobs=2)
    assert sorted(first.built) == ["en/digits/1.sln", "zh/welcome.sln"]
    audio = (tmp_path / "zh/welcome.sln").read_bytes()
    assert len(audio) % 2 == 0 and 8000 < len(audio) < 16000 * 10  # 16-bit 8 kHz, 0.5–10 s
    assert available_prompts(tmp_path, "zh") == {"welcome"}
    again = build(items, tmp_path)
    assert again.built == [] and len(again.unchanged) == 2
    changed = build([PromptText("zh", "welcome", "欢迎您"), items[1]], tmp_path)
    assert changed.built == ["zh/welcome.sln"] and changed.unchanged == ["en/digits/1.sln"]
    gone = build([items[1]], tmp_path)
    assert gone.removed == ["zh/welcome.sln"] and not (tmp_path / "zh/welcome.sln").exists()
    assert (tmp_path / MANIFEST).is_file()


@needs_tools
def test_recorded_file_overrides_the_synthesised_one(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded"
    (recorded / "zh").mkdir(parents=True)
    tone = recorded / "zh" / "welcome.wav"  # a 1 s 44.1 kHz stereo recording
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(tone), "synth", "1", "sine", "440"], check=True
    )
    out = tmp_path / "out"
    report = build([PromptText("zh", "welcome", "欢迎致电")], out, recorded_dir=recorded)
    assert report.recorded == ["zh/welcome.sln"] and report.built == []
    assert (out / "zh/welcome.sln").stat().st_size == 16000  # 1 s at 8 kHz, 16-bit mono
    tone.write_bytes(tone.read_bytes())  # same content: nothing to do
    assert build([PromptText("zh", "welcome", "欢迎致电")], out, recorded_dir=recorded).unchanged


@needs_tools
def test_cli_builds_the_shipped_menus(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline.cli",
            "prompts",
            "build",
            "--out",
            str(tmp_path),
            "--jobs",
            "4",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "synthesised" in out.stdout
    zh = available_prompts(tmp_path, "zh")
    assert {"welcome", "pick_dept", "ask_id", "digits/0", "digits/9"} <= zh
    assert "{dept.name}" in out.stdout  # what could not be pre-rendered is listed
