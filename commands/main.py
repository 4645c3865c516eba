"""``hotline``: serve, demo, and checks for what operators edit.

``--config FILE`` goes before or after any subcommand (``hotline serve --config FILE`` and
``hotline --config FILE serve`` are the same). Exit codes: 0 fine, 1 a check found errors,
2 configuration that cannot start (printed with file:line), 3 the demo's scripted booking failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

CONFIG_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError)


TOOLS = {"booking": "commands.bookings", "schedule": "commands.bookings",
         "users": "commands.users", "prompts": "commands.prompts"}
CONFIG_HELP = "settings file (default: config/hotline.yaml if there, else the built-in defaults)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=None, metavar="FILE", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server as configured")
    demo = sub.add_parser("demo", help="run on embedded Redis and a loopback SMSC, print each SMS")
    for command in (serve, demo):
        command.add_argument("--workers", default=None, help="processes (node.workers): N or auto")
    demo.add_argument("--once", action="store_true", help="book once by USSD, check in, then exit")
    demo.add_argument("--cmpp", action="store_true",
                      help="send SMS over CMPP 2.0 to a loopback ISMG instead of SMPP")
    demo.add_argument("--http-port", type=int, default=None)
    demo.add_argument("--fastagi-port", type=int, default=None)
    from menudesk.cli import add_parsers as add_menu_parsers

    add_menu_parsers(sub)  # menus check|graph, simulate
    from commands.prompts import add_parser as add_prompts_parser

    add_prompts_parser(sub)  # prompts build
    from commands.bookings import add_commands as add_booking_commands

    add_booking_commands(sub)  # booking reconcile|fill|share|blacklist|csv, schedule load
    from commands.users import add_parser as add_users_parser

    add_users_parser(sub)  # users add|list|remove (the console's accounts)
    config = sub.add_parser("config", help="the effective settings, checks, the reference")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    config_sub.add_parser("show", help="print the effective settings, secrets masked")
    check = config_sub.add_parser("check", help="validate a settings file and what it names "
                                  "(menus, catalog, templates) without starting")  # fmt: skip
    check.add_argument("file", type=Path, nargs="?", default=None, help="default: --config")
    config_sub.add_parser("reference", help="every key as Markdown (docs/settings.md)")
    _config_everywhere(parser)
    return parser


def _config_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let every subcommand, at every level, take ``--config`` too. SUPPRESS: a subcommand
    that is not given it leaves the value parsed before the subcommand alone."""
    seen: set[int] = set()
    todo = [parser]
    while todo:
        current = todo.pop()
        for action in current._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for child in action.choices.values():
                if id(child) in seen:
                    continue
                seen.add(id(child))
                child.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                                   help=CONFIG_HELP)  # fmt: skip
                todo.append(child)


def default_config(path: Path | None) -> Path | None:
    if path is not None:
        return path
    candidate = Path("config/hotline.yaml")
    return candidate if candidate.exists() else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "menus":
        from menudesk.cli import dispatch

        code = dispatch(args)
        assert code is not None
        return code
    from settings.schema import load_settings

    if args.command == "simulate":
        from hotline.app import VALIDATORS, load_static
        from menudesk.simulate import main as simulate

        try:
            settings = load_settings(default_config(args.config))
            platform, menus, _ = load_static(settings)
        except CONFIG_ERRORS as exc:
            print(f"hotline: cannot simulate: {exc}", file=sys.stderr)
            return 2
        return simulate(args, platform=platform, menus=menus, validators=VALIDATORS,
                        default_menu=settings.default_menu)
    if args.command == "config":
        return config_command(args)
    overrides: dict[str, Any] = {}
    if args.command == "demo":
        cmpp = {"simulator": True} if args.cmpp else None
        overrides = {"redis": {"url": None}, "sms": {"smpp": None, "cmpp": cmpp}}
        if args.http_port is not None:
            overrides["http"] = {"port": args.http_port}
        if args.fastagi_port is not None:
            overrides["ivr"] = {"fastagi": {"port": args.fastagi_port}}
    if getattr(args, "workers", None) is not None:
        workers = args.workers
        overrides["node"] = {"workers": "auto" if workers == "auto" else _whole(workers)}
    if args.command in TOOLS:  # one tool on the settings' Redis or files, then exit
        tool = importlib.import_module(TOOLS[args.command])
        try:
            return int(tool.run(args, load_settings(default_config(args.config))))
        except CONFIG_ERRORS as exc:
            print(f"hotline: cannot start: {exc}", file=sys.stderr)
            return 2
    try:
        settings = load_settings(default_config(args.config), overrides)
        from hotline.app import load_static

        load_static(settings)  # refuse to start on a broken menu, catalog or template
    except CONFIG_ERRORS as exc:
        print(f"hotline: cannot start: {exc}", file=sys.stderr)
        return 2
    from hotline.run import run

    return run(settings, demo=args.command == "demo", once=getattr(args, "once", False))


def config_command(args: argparse.Namespace) -> int:
    """``config show|check|reference``."""
    import yaml

    from settings.reference import reference
    from settings.schema import load_settings, masked

    if args.config_command == "reference":
        sys.stdout.write(reference())
        return 0
    path = default_config(args.file if args.config_command == "check" and args.file
                          else args.config)  # fmt: skip
    try:
        settings = load_settings(path)
        if args.config_command == "check":
            from hotline.app import load_static

            load_static(settings)
    except CONFIG_ERRORS as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 1 if args.config_command == "check" else 2
    if args.config_command == "check":
        print(f"{path or 'built-in defaults'}: ok (settings, {len(settings.menu_files)} menu(s), "
              "catalog, SMS templates)")  # fmt: skip
        return 0
    print(f"# effective settings from {path or 'the built-in defaults'}; secrets masked")
    print(yaml.safe_dump(masked(settings.raw), allow_unicode=True, sort_keys=False), end="")
    return 0


def _whole(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # load_settings names the problem


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
