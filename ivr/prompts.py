"""Prompt files for the voice channel: every static menu text, both languages, as 8 kHz audio.

``menu_prompts`` lists what a menu can say with the file name the call will ask Asterisk for
(``ivr.render.prompt_name``); ``build`` renders them with espeak-ng + sox to headerless 16-bit
mono 8 kHz ``.sln`` under ``<out>/<lang>/<name>.sln`` (Asterisk's ``sounds/<lang>/`` layout), or
converts a recorded file from ``<recorded>/<lang>/<name>.(wav|sln)`` instead. A manifest of
content hashes (text, voice, rate, recording) means a rebuild only touches what changed.
Texts that depend on the caller (``{dept.name}``…) cannot be pre-rendered and are reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ivr.render import prompt_name
from menus.template import Template, render_parts
from menus.types import Say

VOICES = {"zh": "cmn-latn-pinyin", "en": "en-us"}  # plain "cmn" reads pinyin as English
RATE_WPM = 150
MANIFEST = "manifest.json"
INSTALL_HINT = "install them with: apt-get install -y espeak-ng sox"

# Words to read digits, codes and dates; Chinese reads 1 as 幺 in codes and phone numbers.
WORDS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        **{f"digits/{d}": w for d, w in zip("0123456789", "零幺二三四五六七八九", strict=True)},
        "letters/x": "叉",
        "letters/star": "星号",
        "letters/pound": "井号",
        **{f"hotline/words/month_{m}": f"{m}月" for m in range(1, 13)},
        **{f"hotline/words/day_{d}": f"{d}日" for d in range(1, 32)},
        **{f"hotline/words/weekday_{i}": f"星期{w}" for i, w in enumerate("一二三四五六日")},
        "hotline/words/am": "上午",
        "hotline/words/pm": "下午",
    },
    "en": {
        **{
            f"digits/{d}": w
            for d, w in zip(
                "0123456789",
                ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
                strict=True,
            )
        },
        "letters/x": "X",
        "letters/star": "star",
        "letters/pound": "pound",
        **{
            f"hotline/words/month_{m}": n
            for m, n in enumerate(
                [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ],
                start=1,
            )
        },
        **{f"hotline/words/day_{d}": str(d) for d in range(1, 32)},
        **{
            f"hotline/words/weekday_{i}": w
            for i, w in enumerate(
                ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            )
        },
        "hotline/words/am": "morning",
        "hotline/words/pm": "afternoon",
    },
}


class PromptToolsMissing(RuntimeError):
    """espeak-ng and/or sox are not installed; the message names which."""


@dataclass(frozen=True, slots=True, order=True)
class PromptText:
    lang: str
    name: str  # the Asterisk file name, no extension, relative to sounds/<lang>/
    text: str


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


# ---------------------------------------------------------------------- what a menu says


def _texts(value: Any) -> Iterator[Mapping[str, Template]]:
    """Every per-language text inside a node (text, hints, short forms, choices…)."""
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, Template) for v in value.values())
    ):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _texts(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            if f.name not in ("args", "set", "choices"):  # choices: spoken as option lines
                yield from _texts(getattr(value, f.name))


def _static(
    tpl: Template,
    scope: Mapping[str, Any],
    prompt: str | None,
    lang: str,
    out: set[PromptText],
    dynamic: set[str],
) -> None:
    if any(f.root not in scope and f.filter != "digits" for f in tpl.fields()):
        dynamic.add(f"{lang}: {tpl.source}")
        return
    for part in render_parts(tpl, scope, prompt):
        if isinstance(part, Say) and (part.text or part.prompt):
            out.add(PromptText(lang, prompt_name(part, lang), part.text))


def menu_prompts(
    definition: Any, *, item_lists: Mapping[str, Sequence[Sequence[str]]] | None = None
) -> tuple[list[PromptText], list[str]]:
    """(prompts to build, texts that depend on the call and cannot be built) for a menu.

    ``item_lists`` (per language, lists in the order the effects return them, e.g. the
    catalog's departments) pre-renders list lines such as "内科请按1。": the i-th name at
    positions 1..i (entries before it may be filtered out at run time, never reordered).
    """
    out: set[PromptText] = set()
    dynamic: set[str] = set()
    messages = getattr(definition, "messages", {})
    item_fmt = messages.get("item_ivr") or messages.get("item_ussd") or {}
    for lang in definition.languages:
        for node in definition.nodes.values():
            prompt = getattr(node, "prompt", None)
            text = getattr(node, "text", None)
            for found in _texts(node):
                tpl = found.get(lang)
                if tpl is not None:
                    _static(tpl, {}, prompt if found is text else None, lang, out, dynamic)
            for choice in getattr(node, "choices", ()):
                name_tpl, fmt = choice.text.get(lang), item_fmt.get(lang)
                if name_tpl is not None and fmt is not None and not name_tpl.fields():
                    scope = {"n": choice.key, "name": name_tpl.source, "item": {}}
                    _static(fmt, scope, None, lang, out, dynamic)
        for key, message in messages.items():
            if lang in message and not key.startswith("item_"):
                _static(message[lang], {}, None, lang, out, dynamic)
        fmt = item_fmt.get(lang)
        for names in (item_lists or {}).get(lang, ()):
            for i, name in enumerate(names, start=1):
                for n in range(1, i + 1):
                    if fmt is not None:
                        scope = {"n": str(n), "name": name, "item": {}}
                        _static(fmt, scope, None, lang, out, dynamic)
    return sorted(out), sorted(dynamic)


def word_prompts(languages: Iterable[str]) -> list[PromptText]:
    """Digits 0–9, letters and the words for dates and sessions, per language."""
    return [
        PromptText(lang, name, text)
        for lang in languages
        for name, text in WORDS.get(lang, {}).items()
    ]


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


def _recording(recorded_dir: Path | None, item: PromptText) -> Path | None:
    if recorded_dir is None:
        return None
    for ext in (".wav", ".sln"):
        candidate = recorded_dir / item.lang / f"{item.name}{ext}"
        if candidate.is_file():
            return candidate
    return None


def _digest(item: PromptText, recording: Path | None) -> str:
    h = hashlib.sha256(f"{item.lang}\0{item.text}\0{VOICES.get(item.lang)}\0{RATE_WPM}".encode())
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
        else:
            voice = VOICES.get(item.lang, item.lang)
            subprocess.run(
                [espeak, "-v", voice, "-s", str(RATE_WPM), "-w", str(source), item.text],
                check=True,
                capture_output=True,
                timeout=60,
            )
        partial = target.with_suffix(".part")
        subprocess.run(
            [sox, str(source), *out_args, str(partial), "gain", "-n", "-3"],
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
    return report
