"""``hotline menus check|graph`` and ``hotline simulate``: the operator's menu tools.

``check`` loads each file strictly (schema, targets, keys, translations, loops: the first such
error stops that file) and then inspects it (unreachable nodes, dead ends, missing prompts, empty
texts, long USSD screens). Every line reads ``file:line:col: error|warning: ...``. Exit 1 when any
error was found (with ``--strict`` warnings count too), 0 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from menudesk.check import (  # the last two: the CLI's names of old
    _error_line,
    check_one,
    missing_text_prompts,  # noqa: F401
    needed_prompts,  # noqa: F401
)
from menus.definition import MenuError, load_menu
from menus.inspect import USSD_ZH_LIMIT, dot, mermaid

PROMPT_SUFFIXES = {".sln", ".sln16", ".ulaw", ".alaw", ".gsm", ".wav", ".g722", ".mp3"}


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``menus`` and ``simulate`` on the top-level subparsers."""
    menus = sub.add_parser("menus", help="menu tools")
    menus_sub = menus.add_subparsers(dest="menus_command", required=True)
    check = menus_sub.add_parser("check", help="validate menu files; non-zero exit on error")
    check.add_argument("files", nargs="+", type=Path)
    check.add_argument("--prompts", type=Path, default=None, help="built prompts directory")
    check.add_argument(
        "--catalog", type=Path, default=None,
        help="with --prompts: its names must be built too (a hospital file or a platform folder)",
    )
    check.add_argument("--ussd-limit", type=int, default=USSD_ZH_LIMIT)
    check.add_argument("--strict", action="store_true", help="warnings fail the check too")
    graph = menus_sub.add_parser("graph", help="draw a menu (.svg via Graphviz, .mmd, .dot)")
    graph.add_argument("file", type=Path)
    graph.add_argument("-o", "--output", type=Path, required=True)
    from menudesk.simulate import add_parser as add_simulate

    add_simulate(sub)


def dispatch(args: argparse.Namespace) -> int | None:
    """Run ``menus`` commands; None for other commands (``simulate`` needs the settings:
    ``commands.main`` runs it)."""
    if args.command == "menus" and args.menus_command == "check":
        prompts = prompt_names(args.prompts) if args.prompts is not None else None
        catalog = None
        if args.catalog is not None:
            from booking.catalog import load_platform

            try:
                catalog = load_platform(args.catalog)  # a hospital file or a platform folder
            except (ValueError, OSError) as err:
                print(f"hotline menus check: {err}", file=sys.stderr)
                return 2
        return check(
            args.files,
            prompts=prompts,
            catalog=catalog,
            ussd_limit=args.ussd_limit,
            strict=args.strict,
        )
    if args.command == "menus" and args.menus_command == "graph":
        return graph(args.file, args.output)
    return None


def prompt_names(directory: Path) -> set[str]:
    """Recorded prompt names under ``directory``: ``zh/welcome.sln`` gives ``zh/welcome``."""
    names: set[str] = set()
    if not directory.is_dir():
        return names
    for path in directory.rglob("*"):
        if path.is_file() and path.suffix in PROMPT_SUFFIXES:
            names.add(path.relative_to(directory).with_suffix("").as_posix())
    return names


def check(
    files: list[Path],
    *,
    prompts: set[str] | None = None,
    catalog: Any = None,
    ussd_limit: int = USSD_ZH_LIMIT,
    strict: bool = False,
    out: TextIO | None = None,
) -> int:
    """Check ``files``; prints one line per problem and a summary per file."""
    out = out or sys.stdout
    errors = warnings = 0
    for path in files:
        bad, warned, _ = check_one(
            path, partial(load_menu, path), prompts=prompts, catalog=catalog,
            ussd_limit=ussd_limit, out=out,
        )
        errors += bad
        warnings += warned
    print(f"{len(files)} file(s): {errors} error(s), {warnings} warning(s)", file=out)
    return 1 if errors or (strict and warnings) else 0


def graph(path: Path, output: Path, *, out: TextIO | None = None) -> int:
    """Write ``output``: SVG through Graphviz ``dot`` when installed, else Mermaid text."""
    out = out or sys.stdout
    try:
        definition = load_menu(path)
    except (MenuError, OSError) as exc:
        print(_error_line(exc), file=out)
        return 1
    suffix = output.suffix.lower()
    if suffix == ".dot":
        output.write_text(dot(definition), encoding="utf-8")
    elif suffix == ".svg" and (exe := shutil.which("dot")) is not None:
        done = subprocess.run(
            [exe, "-Tsvg", "-o", str(output)], input=dot(definition).encode(), check=False
        )
        if done.returncode != 0:
            print(f"error: dot exited with {done.returncode}", file=out)
            return 1
    else:
        if suffix == ".svg":
            output = output.with_suffix(".mmd")
            print(f"note: Graphviz 'dot' is not installed; writing Mermaid to {output}", file=out)
        output.write_text(mermaid(definition), encoding="utf-8")
    print(f"wrote {output}", file=out)
    return 0
