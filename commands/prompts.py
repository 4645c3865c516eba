"""``hotline prompts build``: render what the menus can say, in every voice language, to audio.

Reads the menus and the hospitals (a platform folder or one hospital file: every name a value
can carry, departments, sessions, hospitals and their short names, districts) from the
settings, writes ``<ivr.prompts.dir>/<lang>/<name>.sln``, a manifest and the list of pieces,
and takes recorded files from ``ivr.prompts.recorded`` instead of synthesising them
(docs/ivr.md). Exit codes: 0 built, 2 espeak-ng/sox missing or a menu/catalog that does not
load.
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
    build.add_argument("--catalog", type=Path, action="append", default=None,
                       help="the hospitals whose names to build (a file or a platform folder; "
                       "repeat for several); default: the settings' catalog")
    build.add_argument("-q", "--quiet", action="store_true")


def run(args: argparse.Namespace, settings: Any) -> int:
    """Build the prompts for ``settings``; prints a summary and what cannot be pre-rendered."""
    from booking.catalog import load_platform
    from ivr.prompt_texts import prompt_items
    from ivr.prompts import PIECES, PromptToolsMissing, build, find_tools
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
        paths = args.catalog or [settings.catalog_path]
        catalog = [load_platform(path) for path in paths]  # every name of every one
        menus = [load_menu(settings.path(m)) for m in settings.raw["menus"]]
    except (ValueError, OSError) as err:
        print(f"hotline prompts build: {err}", file=sys.stderr)
        return 2
    items = prompt_items(menus, catalog)
    if args.lang:
        items = [item for item in items if item.lang in args.lang]
    report = build(items, out, recorded_dir=recorded, jobs=args.jobs, tools=tools)
    print(
        f"prompts in {out}: {len(report.built)} synthesised, {len(report.recorded)} from "
        f"recordings, {len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    if not args.quiet:
        print(f"pieces to record per hospital: {out / PIECES} (language, file, text)")
    return 0
