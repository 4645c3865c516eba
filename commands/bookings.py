"""``hotline booking …`` and ``hotline schedule load``: the hospital's tools on the command line.

They talk to the Redis of ``redis.url`` (or ``--redis-url``); an embedded Redis belongs to the
running server, so these commands refuse to start their own. Exit codes: 0 fine, 1 drift found
(reconcile) or a refused change, 2 configuration or input errors.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from commands.once import run_once

HOSPITAL_HELP = ("the hospital's id (its file's hospital.id); may be left out on a platform of "
                 "one hospital")


def add_commands(sub: Any) -> None:
    """Register ``booking`` and ``schedule`` on the main parser's subparsers. ``--hospital``
    names the hospital of ``fill``, ``share``, ``csv``, ``blacklist`` and ``schedule load``
    (for ``csv`` and ``blacklist``, left out on a platform of several: every hospital)."""
    booking = sub.add_parser("booking", help="booking administration (docs/booking.md)")
    booking.add_argument("--redis-url", default=None, help="default: redis.url from settings")
    bsub = booking.add_subparsers(dest="booking_command", required=True)
    rec = bsub.add_parser("reconcile", help="rebuild counters from bookings; exit 1 on drift")
    rec.add_argument("--fix", action="store_true", help="write the recomputed counters")
    fill = bsub.add_parser("fill", help="quota and places left per session and channel")
    fill.add_argument("--day", required=True, type=dt.date.fromisoformat)
    share = bsub.add_parser("share", help="set a department's remote share (0..1)")
    share.add_argument("dept")
    share.add_argument("share", type=float)
    bl = bsub.add_parser("blacklist", help="list barred IDs, or lift one with a reason")
    bl.add_argument("--lift", metavar="ID_OR_DIGEST")
    bl.add_argument("--reason", default="")
    bl.add_argument("--appeal", default="")
    pay = bsub.add_parser("pay", help="payment simulator: POST a signed callback to the server")
    pay.add_argument("tcode")
    pay.add_argument("--txn", default=None, help="txn_id (default: sim-<tcode>)")
    pay.add_argument("--amount", type=int, default=500, help="fen")
    pay.add_argument("--port", type=int, default=None, help="default: http.port")
    exp = bsub.add_parser("csv", help="a day's bookings as CSV (ID and phone masked)")
    exp.add_argument("--day", required=True, type=dt.date.fromisoformat)
    for command in (fill, share, bl, exp):
        command.add_argument("--hospital", default="", metavar="ID", help=HOSPITAL_HELP)
    mig = bsub.add_parser("migrate", help="move a single-hospital data set to one hospital's "
                          "keys (idempotent; run with the servers stopped)")
    mig.add_argument("--hospital", default="main", help="the hospital's id (default: main)")
    mig.add_argument("--person-scope", choices=("platform", "hospital"), default="platform",
                     help="as the servers will count per-person caps")
    mig.add_argument("--blacklist-scope", choices=("platform", "hospital"), default="platform")
    mig.add_argument("--dry-run", action="store_true", help="count what would move")
    schedule = sub.add_parser("schedule", help="schedule changes")
    schedule.add_argument("--redis-url", default=None)
    ssub = schedule.add_subparsers(dest="schedule_command", required=True)
    load = ssub.add_parser("load", help="apply a YAML or CSV file of dept,day,session,places")
    load.add_argument("file", type=Path)
    load.add_argument("--hospital", default="", metavar="ID", help=HOSPITAL_HELP)


def _at(args: argparse.Namespace) -> dict[str, str]:
    """The ``hospital_id`` keyword of a booking admin call, when ``--hospital`` is given."""
    hospital = str(getattr(args, "hospital", "") or "").strip()
    return {"hospital_id": hospital} if hospital else {}


def read_schedule(path: Path) -> list[dict[str, Any]]:
    """Rows ``{dept, day, session, places}``; places None (or "closed") closes the session."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        rows: list[dict[str, Any]] = list(csv.DictReader(text.splitlines()))
    else:
        try:
            loaded = yaml.safe_load(text) or []
        except (yaml.YAMLError, ValueError) as exc:
            raise ValueError(f"{path}: not a valid schedule: {exc}") from exc
        rows = loaded.get("sessions", []) if isinstance(loaded, dict) else loaded
    out = []
    for n, row in enumerate(rows, start=1):
        try:
            places = row.get("places")
            if places in (None, "", "closed"):
                places = None
            else:
                places = int(places)
                if places < 0:
                    raise ValueError("places must be >= 0")
            day = row["day"]
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
            out.append({"dept": str(row["dept"]), "day": day, "session": str(row["session"]),
                        "places": places})  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: row {n}: {exc!r}") from exc
    return out


def run(args: argparse.Namespace, settings: Any) -> int:
    if args.command == "booking" and args.booking_command == "pay":
        return _pay(args, settings)
    url = args.redis_url or settings.redis_url
    if not url:
        print("hotline: set redis.url or pass --redis-url (the embedded Redis belongs to the "
              "running server)", file=sys.stderr)  # fmt: skip
        return 2
    if args.command == "schedule":
        try:
            rows = read_schedule(args.file)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"hotline: {exc}", file=sys.stderr)
            return 2
    else:
        rows = []
    return run_once(lambda reactor: _command(reactor, url, args, settings, rows))


async def _migrate(redis: Any, args: argparse.Namespace) -> int:
    """``hotline booking migrate``: exit 0 done (or nothing to do), 1 conflicts left."""
    from booking.migrate import migrate

    try:
        report = await migrate(redis, args.hospital, person_scope=args.person_scope,
                               blacklist_scope=args.blacklist_scope, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"hotline: --hospital: {exc}", file=sys.stderr)
        return 2
    what = "would move" if args.dry_run else "moved"
    print(f"migrate: {what} {report.moved} key(s) to hospital {args.hospital}, "
          f"{report.bookings} booking(s) given their hospital")
    for key in report.conflicts:
        print(f"migrate: conflict: {key} exists under its new name too; left as it is",
              file=sys.stderr)
    return 1 if report.conflicts else 0


def _pay(args: argparse.Namespace, settings: Any) -> int:
    """Sign and send one payment callback, print the server's answer (demo and tests)."""
    secret = settings.raw["payments"].get("secret")
    if not secret:
        print("hotline: payments.secret is not set", file=sys.stderr)
        return 2
    from twisted.internet import defer, reactor

    from web.payments import simulate_payment

    result: list[int] = []

    async def go() -> None:
        port = args.port or settings.http_port
        status, body = await simulate_payment(
            port, secret, args.tcode, args.txn or f"sim-{args.tcode}", args.amount
        )
        print(json.dumps(body, ensure_ascii=False))
        result.append(0 if status == 200 else 1)

    def start() -> None:
        d = defer.ensureDeferred(go())
        d.addErrback(lambda f: print(f"hotline: {f.getErrorMessage()}", file=sys.stderr))
        d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    return result[0] if result else 1


async def _command(reactor: Any, url: str, args: Any, settings: Any, rows: list) -> int:
    from booking.admin import CSV_FIELDS
    from booking.api import BookingError
    from booking.catalog import load_platform
    from booking.store import RedisBookingService
    from pii import mask_tail
    from storage.client import connect

    redis = await connect(url, reconnect=False)
    if args.command == "booking" and args.booking_command == "migrate":
        try:
            return await _migrate(redis, args)
        finally:
            await redis.disconnect()
    service = RedisBookingService(redis, load_platform(settings.hospital_file), reactor,
                                  **settings.booking_scopes)
    await service.refresh_shares()
    try:
        cmd = args.booking_command if args.command == "booking" else "load"
        if cmd == "reconcile":
            drift = await service.reconcile(fix=args.fix)
            for row in drift:
                print(json.dumps(row, ensure_ascii=False))
            print(f"reconcile: {len(drift)} counter(s) drifted{' (fixed)' if args.fix else ''}")
            return 1 if drift and not args.fix else 0
        if cmd == "fill":
            for row in await service.fill(args.day, **_at(args)):
                print(json.dumps(row, ensure_ascii=False))
        elif cmd == "share":
            print(json.dumps(await service.set_share(args.dept, args.share, **_at(args))))
        elif cmd == "blacklist" and args.lift:
            done = await service.lift(args.lift, args.reason, args.appeal, **_at(args))
            print("lifted" if done else "no bar in force")
            return 0 if done else 1
        elif cmd == "blacklist":
            for row in await service.blacklist(**_at(args)):
                print(json.dumps(row, ensure_ascii=False))
        elif cmd == "csv":
            writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS)
            writer.writeheader()
            for row in await service.day_bookings(args.day, **_at(args)):
                writer.writerow({**row, "id": mask_tail(row["id"]),
                                 "msisdn": mask_tail(row["msisdn"])})  # fmt: skip
        else:
            for row in rows:
                cancelled = await service.change_session(
                    row["dept"], row["day"], row["session"], row["places"], **_at(args)
                )
                print(f"{row['dept']} {row['day']} {row['session']}: places="
                      f"{'closed' if row['places'] is None else row['places']}, "
                      f"cancelled {len(cancelled)}")  # fmt: skip
        return 0
    except BookingError as exc:
        print(f"hotline: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await redis.disconnect()
