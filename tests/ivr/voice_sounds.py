"""The shipped menus' sound set, built once with espeak-ng and sox (cached by content hash).

``HOTLINE_VOICE_SOUNDS`` names the directory (CI builds ``prompts/sounds`` with
``hotline prompts build`` first and points here, so the tests find every file unchanged);
otherwise ``.pytest_cache/voice-sounds``. Without the tools the tests that need sounds skip,
or fail under ``HOTLINE_REQUIRE_PEERS=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from booking.catalog import load_catalog
from ivr.prompt_texts import prompt_items, voice_languages
from ivr.prompts import available_prompts, build
from menus.definition import load_menu

ROOT = Path(__file__).resolve().parents[2]
MENU = ROOT / "config/menus/booking.yaml"
CATALOG = ROOT / "config/hospital.yaml"


def sounds_dir() -> Path:
    named = os.environ.get("HOTLINE_VOICE_SOUNDS")
    return Path(named) if named else ROOT / ".pytest_cache" / "voice-sounds"


def built_sounds() -> tuple[Path, dict[str, set[str]]]:
    """Build (what changed only) and return (directory, {lang: names})."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        why = "espeak-ng and sox not installed (apt-get install -y espeak-ng sox)"
        if os.environ.get("HOTLINE_REQUIRE_PEERS") == "1":
            pytest.fail(why)
        pytest.skip(why)
    menu = load_menu(MENU)
    out = sounds_dir()
    build(prompt_items([menu], load_catalog(CATALOG)), out, jobs=2)
    return out, {lang: available_prompts(out, lang) for lang in voice_languages(menu)}
