"""Prompt files for the voice channel: what a menu can say, per voice language, as 8 kHz audio.

What a menu can say is listed by ``ivr.prompt_texts`` (static texts, the pieces of sentences
with call data, catalog names, words); ``build`` renders those texts with espeak-ng + sox to
headerless 16-bit mono 8 kHz ``.sln`` under ``<out>/<lang>/<name>.sln`` (Asterisk's
``sounds/<lang>/`` layout), or converts a recorded file from ``<recorded>/<lang>/<name>.(wav|sln)``
instead, trimming silence at both ends (``TRIM``) and keeping a short pause after a sentence or
clause (``pause_after``). A manifest of content hashes (text, voice, rate, trimming, recording)
means a rebuild only touches what changed; ``pieces.tsv`` lists every file with its text.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.prompt_texts import PromptText, menu_prompts, word_prompts

__all__ = [
    "INSTALL_HINT",
    "MANIFEST",
    "PIECES",
    "RATE_WPM",
    "VOICES",
    "BuildReport",
    "PromptText",
    "PromptToolsMissing",
    "available_prompts",
    "build",
    "find_tools",
    "menu_prompts",
    "render_wav",
    "seconds",
    "word_prompts",
]

# plain "cmn" reads pinyin as English; "yue" reads Chinese characters in Cantonese
VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us", "yue": "yue"}
RATE_WPM = 150
MANIFEST = "manifest.json"
PIECES = "pieces.tsv"  # every file with its text: what a hospital records to replace the voice
# sox effects that cut leading and trailing silence, so pieces join without gaps; a piece that
# ends a sentence or clause then gets a short pause of its own (``pause_after``)
TRIM = ["silence", "1", "0.02", "-45d", "reverse", "silence", "1", "0.02", "-45d", "reverse"]
PAUSE_S = {"。！？.!?": 0.15, "，,：:；;、": 0.08}


def pause_after(text: str) -> float:
    """The silence a piece keeps at its end: a sentence's end or a clause's, else none."""
    end = text.rstrip()[-1:]
    return next((s for marks, s in PAUSE_S.items() if end and end in marks), 0.0)


INSTALL_HINT = "install them with: apt-get install -y espeak-ng sox"


class PromptToolsMissing(RuntimeError):
    """espeak-ng and/or sox are not installed; the message names which."""


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def find_tools() -> tuple[str, str]:
    """Paths of espeak-ng and sox, or PromptToolsMissing naming what is absent."""
    found = {tool: shutil.which(tool) for tool in ("espeak-ng", "sox")}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        raise PromptToolsMissing(f"{' and '.join(missing)} not found on PATH; {INSTALL_HINT}")
    return found["espeak-ng"] or "", found["sox"] or ""


def available_prompts(out_dir: Path, lang: str) -> set[str]:
    """Prompt names present under ``<out_dir>/<lang>/`` (any extension Asterisk reads)."""
    base = out_dir / lang
    if not base.is_dir():
        return set()
    return {
        p.relative_to(base).with_suffix("").as_posix()
        for p in base.rglob("*")
        if p.is_file() and p.suffix in (".sln", ".wav", ".ulaw", ".alaw", ".gsm", ".g722")
    }


# ---------------------------------------------------------------------- building


def render_wav(text: str, lang: str, target: Path, tools: tuple[str, str] | None = None) -> None:
    """Say ``text`` into an 8 kHz mono 16-bit WAV at ``target`` (live speech, ``ivr.live``):
    the same voice, rate, gain and trimming as the build. Blocking: run it in a thread."""
    espeak, sox = tools or find_tools()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "speech.wav"
        voice = VOICES.get(lang, lang)
        subprocess.run(
            [espeak, "-v", voice, "-s", str(RATE_WPM), "-w", str(source), text],
            check=True,
            capture_output=True,
            timeout=60,
        )
        partial = target.with_name(target.name + ".part")
        out_args = ["-t", "wav", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
        subprocess.run(
            [sox, str(source), *out_args, str(partial), "gain", "-n", "-3", *TRIM],
            check=True,
            capture_output=True,
            timeout=60,
        )
        os.replace(partial, target)


def _recording(recorded_dir: Path | None, item: PromptText) -> Path | None:
    if recorded_dir is None:
        return None
    for ext in (".wav", ".sln"):
        candidate = recorded_dir / item.lang / f"{item.name}{ext}"
        if candidate.is_file():
            return candidate
    return None


def _digest(item: PromptText, recording: Path | None) -> str:
    voice = VOICES.get(item.lang)
    shape = f"{TRIM}{pause_after(item.text)}"
    h = hashlib.sha256(f"{item.lang}\0{item.text}\0{voice}\0{RATE_WPM}\0{shape}".encode())
    if recording is not None:
        h.update(recording.read_bytes())
    return h.hexdigest()[:16]


def _render(tools: tuple[str, str], item: PromptText, target: Path, recording: Path | None) -> None:
    espeak, sox = tools
    target.parent.mkdir(parents=True, exist_ok=True)
    out_args = ["-t", "raw", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"]
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "speech.wav"
        if recording is not None and recording.suffix == ".sln":
            shutil.copyfile(recording, target)
            return
        if recording is not None:
            source = recording
        elif not item.text:  # a pause: silence of its own length
            seconds = item.name.rsplit("_", 1)[-1].removesuffix("ms")
            subprocess.run(
                [sox, "-n", *out_args, str(target), "trim", "0", f"{int(seconds) / 1000}"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            return
        else:
            voice = VOICES.get(item.lang, item.lang)
            subprocess.run(
                [espeak, "-v", voice, "-s", str(RATE_WPM), "-w", str(source), item.text],
                check=True,
                capture_output=True,
                timeout=60,
            )
        partial = target.with_suffix(".part")
        pause = pause_after(item.text)
        pad = ["pad", "0", f"{pause}"] if pause else []
        subprocess.run(
            [sox, str(source), *out_args, str(partial), "gain", "-n", "-3", *TRIM, *pad],
            check=True,
            capture_output=True,
            timeout=60,
        )
        os.replace(partial, target)


def build(
    prompts: Sequence[PromptText],
    out_dir: Path,
    *,
    recorded_dir: Path | None = None,
    jobs: int = 4,
    tools: tuple[str, str] | None = None,
) -> BuildReport:
    """Render what changed since the last build (manifest), drop files no menu uses anymore."""
    tools = tools or find_tools()
    manifest_path = out_dir / MANIFEST
    try:
        old: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    new: dict[str, Any] = {}
    report = BuildReport()
    todo: list[tuple[PromptText, Path, Path | None]] = []
    for item in prompts:
        key = f"{item.lang}/{item.name}.sln"
        recording = _recording(recorded_dir, item)
        digest = _digest(item, recording)
        new[key] = {"hash": digest, "text": item.text, "recorded": recording is not None}
        target = out_dir / key
        if old.get(key, {}).get("hash") == digest and target.is_file():
            report.unchanged.append(key)
            continue
        todo.append((item, target, recording))
        (report.recorded if recording is not None else report.built).append(key)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda job: _render(tools, *job), todo))
    for key in sorted(set(old) - set(new)):
        (out_dir / key).unlink(missing_ok=True)
        report.removed.append(key)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(
        json.dumps(new, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8"
    )
    lines = ["lang\tfile\ttext\trecorded"]
    lines += [
        f"{key.split('/', 1)[0]}\t{key.split('/', 1)[1].removesuffix('.sln')}\t{entry['text']}"
        f"\t{'yes' if entry['recorded'] else 'no'}"
        for key, entry in sorted(new.items())
    ]
    (out_dir / PIECES).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report


def seconds(out_dir: Path, lang: str, name: str) -> float | None:
    """How long a built file plays (8 kHz 16-bit mono .sln), None when it is not there."""
    path = out_dir / lang / f"{name}.sln"
    try:
        return path.stat().st_size / 16000
    except OSError:
        return None
