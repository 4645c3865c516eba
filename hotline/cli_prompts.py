"""``hotline prompts build``: render every static menu text, both languages, to Asterisk audio.

Reads the menus and the hospital catalog (department and session names for list lines) from
the settings, writes ``<ivr.prompts.dir>/<lang>/<name>.sln`` and a manifest, and takes recorded
files from ``ivr.prompts.recorded`` instead of synthesising them (docs/ivr.md). Exit codes:
0 built, 2 espeak-ng/sox missing or a menu/catalog that does not load.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prompts = sub.add_parser("prompts", help="voice prompt tools")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    build = prompts_sub.add_parser("build", help="render menu texts to 8 kHz .sln (espeak-ng+sox)")
    build.add_argument("--out", type=Path, default=None, help="default: ivr.prompts.dir")
    build.add_argument("--recorded", type=Path, default=None, help="default: ivr.prompts.recorded")
    build.add_argument("--jobs", type=int, default=4)
    build.add_argument("--lang", action="append", default=None, help="only these languages")
    build.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace, settings: Any) -> int:
    """Build the prompts for ``settings``; prints a summary and what cannot be pre-rendered."""
    from booking.catalog import load_catalog
    from ivr.prompts import PromptToolsMissing, build, find_tools, menu_prompts, word_prompts
    from menus.definition import load_menu

    conf = settings.raw["ivr"]["prompts"]
    out = args.out or settings.path(conf["dir"])
    recorded = args.recorded or settings.path(conf["recorded"])
    try:
        tools = find_tools()
    except PromptToolsMissing as err:
        print(f"hotline prompts build: {err}", file=sys.stderr)
        return 2
    try:
        catalog = load_catalog(settings.path(settings.raw["hospital"]))
        menus = [load_menu(settings.path(m)) for m in settings.raw["menus"]]
    except (ValueError, OSError) as err:
        print(f"hotline prompts build: {err}", file=sys.stderr)
        return 2
    lists: dict[str, list[list[str]]] = {}
    for lang in {lang for d in catalog.departments for lang in d.name}:
        depts = [d.name[lang] for d in catalog.departments if lang in d.name]
        labels: list[str] = []
        for dept in catalog.departments:
            for template in dept.sessions:
                label = getattr(template, "label", {}).get(lang)
                if label and label not in labels:
                    labels.append(label)
        lists[lang] = [depts, labels]
    items, dynamic = [], set()
    languages: set[str] = set()
    for menu in menus:
        found, dyn = menu_prompts(menu, item_lists=lists)
        items += found
        dynamic.update(dyn)
        languages.update(menu.languages)
    items += word_prompts(sorted(languages))
    if args.lang:
        items = [item for item in items if item.lang in args.lang]
    report = build(sorted(set(items)), out, recorded_dir=recorded, jobs=args.jobs, tools=tools)
    print(
        f"prompts in {out}: {len(report.built)} synthesised, {len(report.recorded)} from "
        f"recordings, {len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    if dynamic and not args.quiet:
        print("texts with call data (no pre-rendered file: record one per value or the call")
        print("skips them with a warning; see docs/ivr.md):")
        for text in sorted(dynamic):
            print(f"  {text}")
    return 0

