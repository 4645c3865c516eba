"""``hotline users add|list|remove``: the console's accounts (docs/console.md).

The password of ``add`` is read from standard input (its first line), never from the command
line, where other users of the machine could read it. Like ``hotline booking``, these commands
talk to the Redis of ``redis.url`` (or ``--redis-url``). Exit codes: 0 fine, 1 refused (the
name exists, no such user), 2 configuration or input errors.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from commands.once import run_once
from web.console.accounts import PLATFORM, ROLES, AccountError, Accounts, check_new


def add_parser(sub: Any) -> None:
    users = sub.add_parser("users", help="console accounts (docs/console.md)")
    users.add_argument("--redis-url", default=None, help="default: redis.url from settings")
    usub = users.add_subparsers(dest="users_command", required=True)
    add = usub.add_parser("add", help="add an account; the password is read from stdin")
    add.add_argument("name")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--hospital", metavar="ID", help="the hospital the account works for")
    where.add_argument("--platform", action="store_true", help="operator staff: every hospital")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--replace", action="store_true", help="set a new password and role")
    usub.add_parser("list", help="every account: name, hospital, role")
    remove = usub.add_parser("remove", help="remove an account")
    remove.add_argument("name")


def hospitals(settings: Any) -> tuple[str, ...]:
    """The ids of the platform's hospitals (``hospital`` in the settings)."""
    from booking.catalog import load_platform

    return tuple(h.id for h in load_platform(settings.hospital_file).hospitals)


def run(args: argparse.Namespace, settings: Any) -> int:
    url = args.redis_url or settings.redis_url
    if not url:
        print("hotline: set redis.url or pass --redis-url (the embedded Redis belongs to the "
              "running server)", file=sys.stderr)  # fmt: skip
        return 2
    password = ""
    if args.users_command == "add":
        hospital = PLATFORM if args.platform else args.hospital
        known = hospitals(settings)
        if hospital != PLATFORM and hospital not in known:
            print(f"hotline: no hospital {hospital!r} (known: {', '.join(known)})",
                  file=sys.stderr)
            return 2
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            check_new(args.name.strip().lower(), hospital, args.role, password)
        except AccountError as exc:
            print(f"hotline: {exc}", file=sys.stderr)
            return 2
    return run_once(lambda reactor: _command(url, args, password))


async def _command(url: str, args: argparse.Namespace, password: str) -> int:
    from storage.client import connect

    redis = await connect(url, reconnect=False)
    try:
        accounts = Accounts(redis)
        if args.users_command == "add":
            hospital = PLATFORM if args.platform else args.hospital
            try:
                user = await accounts.add(args.name, hospital, args.role, password,
                                          replace=args.replace)
            except AccountError as exc:
                print(f"hotline: {exc}", file=sys.stderr)
                return 1
            print(f"{user.name}: {user.role} of "
                  f"{'the platform' if user.platform else user.hospital}")
            return 0
        if args.users_command == "list":
            for name in sorted(await redis.smembers("hl:console:users")):
                user = await accounts.get(name)
                if user is not None:
                    print(f"{user.name}\t{user.hospital}\t{user.role}")
            return 0
        if not await accounts.remove(args.name):
            print(f"hotline: no user {args.name!r}", file=sys.stderr)
            return 1
        return 0
    finally:
        await redis.disconnect()
