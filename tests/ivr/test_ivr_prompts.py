"""Prompt lists match what calls ask for; the build renders, caches, overrides and explains."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.compose import compose, text_name
from ivr.prompt_texts import (
    WORDS,
    PromptText,
    catalog_names,
    menu_prompts,
    value_prompts,
    word_prompts,
)
from ivr.prompts import MANIFEST, PromptToolsMissing, available_prompts, build, find_tools
from menus.definition import load_menu
from menus.types import Say, Slot

ROOT = Path(__file__).resolve().parents[2]
TOOLS = shutil.which("espeak-ng") and shutil.which("sox")
needs_tools = pytest.mark.skipif(
    not TOOLS, reason="espeak-ng and sox not installed (apt-get install -y espeak-ng sox)"
)


def booking_menu():
    return load_menu(ROOT / "config/menus/booking.yaml")


def test_menu_prompts_use_the_names_a_call_asks_for() -> None:
    prompts, uncovered = menu_prompts(booking_menu())
    names = {(p.lang, p.name) for p in prompts}
    for lang in ("zh", "en", "yue"):  # yue: the Chinese texts, in the Cantonese voice
        assert (lang, "welcome") in names  # recorded-name prompts
    # a sentence with call data is built as its static parts: what compose() plays
    confirm = Say("请确认：内科 12月6日 星期日 上午，身份证尾号002X。", slots=(
        "请确认：", Slot("内科"), " ", Slot("12月6日 星期日"), " ", Slot("上午"), "，身份证尾号",
        Slot("002X", "last4"), "。"))  # fmt: skip
    statics = [p.name for p in compose(confirm, "zh") if p.name.startswith("hotline/zh/")]
    assert statics[0] == text_name("请确认：", "zh") and len(statics) == 3
    assert ("zh", statics[0]) in names and ("zh", statics[2]) in names
    assert ("zh", statics[1]) not in names  # 内科 comes from the catalog, not the menu
    assert ("yue", text_name("请确认：", "yue")) in names and uncovered == []
    tcode_intro = [p for p in prompts if p.text.endswith("取号码：")]
    assert tcode_intro, "the text before a {digits:...} read-back is static and is built"


def test_catalog_names_are_found_in_any_name_field() -> None:
    catalog = {"hospitals": [{"name": {"zh": "福田医院", "en": "Futian Hospital"},
                              "district": {"name": {"zh": "福田区"}}}]}  # fmt: skip
    found = catalog_names(catalog, {"yue": "zh"})
    assert found["zh"] == {"福田医院", "福田区"} and found["yue"] == found["zh"]
    pieces = {(p.lang, p.name) for p in value_prompts(found)}
    assert ("yue", text_name("福田区", "yue")) in pieces


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
        [sys.executable, "-m", "commands.main", "prompts", "build", "--out", str(tmp_path)],
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
    size = (out / "zh/welcome.sln").stat().st_size  # 1 s at 8 kHz, 16-bit mono, edges trimmed
    assert 15000 < size <= 16000 and size % 2 == 0
    tone.write_bytes(tone.read_bytes())  # same content: nothing to do
    assert build([PromptText("zh", "welcome", "欢迎致电")], out, recorded_dir=recorded).unchanged


@needs_tools
def test_cli_builds_the_shipped_menus(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "commands.main",
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
    assert {"welcome", "hotline/words/weekday_6", text_name("内科", "yue")} <= available_prompts(
        tmp_path, "yue"
    )
    pieces = (tmp_path / "pieces.tsv").read_text(encoding="utf-8")
    assert f"zh\t{text_name('内科', 'zh')}\t内科\tno" in pieces  # what to record, per hospital
