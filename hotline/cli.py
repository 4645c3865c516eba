"""``hotline``: serve, demo, and checks for what operators edit.

Exit codes: 0 fine, 1 a check found errors, 2 configuration that cannot start (printed with
file:line), 3 the demo's scripted booking failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

CONFIG_ERRORS: tuple[type[Exception], ...] = (ValueError, OSError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--config", type=Path, default=None, help="settings file (default: config/hotline.yaml)"
    )
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
    from hotline.cli_menus import add_parsers as add_menu_parsers

    add_menu_parsers(sub)  # menus check|graph, simulate
    from hotline.cli_prompts import add_parser as add_prompts_parser

    add_prompts_parser(sub)  # prompts build
    from hotline.cli_booking import add_commands as add_booking_commands

    add_booking_commands(sub)  # booking reconcile|fill|share|blacklist|csv, schedule load
    return parser


def default_config(path: Path | None) -> Path | None:
    if path is not None:
        return path
    candidate = Path("config/hotline.yaml")
    return candidate if candidate.exists() else None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("menus", "simulate"):
        from hotline.cli_menus import dispatch

        code = dispatch(args)
        assert code is not None
        return code
    from hotline.settings import load_settings

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
    if args.command in ("booking", "schedule"):
        from hotline.cli_booking import run as booking_command

        try:
            return booking_command(args, load_settings(default_config(args.config)))
        except CONFIG_ERRORS as exc:
            print(f"hotline: cannot start: {exc}", file=sys.stderr)
            return 2
    if args.command == "prompts":
        from hotline.cli_prompts import run as prompts

        try:
            return prompts(args, load_settings(default_config(args.config)))
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


def _whole(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # load_settings names the problem


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
