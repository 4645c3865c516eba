"""``hotline simulate --channel ussd|ivr``: walk a menu in the terminal against the booking core.

Booking runs for real (Redis, Lua scripts, the hospital catalog): an embedded redis-server in a
scratch directory unless ``--redis URL`` names one. USSD mode shows each screen as the handset
would. IVR mode runs the call through the real FastAGI server with the Asterisk stand-in
(``ivr.simulator``, see ``menudesk.simulate_call``): it shows what the call says (the text behind
each prompt, codes read digit by digit), the AGI commands, and asks for keys when Asterisk would
listen; ``--direct`` skips FastAGI and shows the menu's outputs and waits. An empty line is a
no-input timeout, ``q`` hangs up; a transfer to the operator asks you for the Dial outcome.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from menudesk.render import render
from menus.driver import ChannelEffects, Dialogue
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    HangUp,
    Input,
    NoInput,
    Output,
    Session,
    Wait,
)

ReadLine = Callable[[str], Awaitable[str | None]]  # prompt -> line (None at end of input)
Write = Callable[[str], None]
OUTCOMES = ("answered", "busy", "noanswer", "failed")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser("simulate", help="walk a menu in the terminal against the booking core")
    sim.add_argument("--channel", choices=("ussd", "ivr"), default="ussd")
    sim.add_argument("--lang", default=None, help="menu language (default: the menu's first)")
    sim.add_argument("--msisdn", default="8613800138000", help="the caller's number")
    sim.add_argument("--menu", default=None, help="menu name (default: settings default_menu)")
    sim.add_argument("--redis", default=None, help="Redis URL (default: embedded, scratch)")
    sim.add_argument(
        "--direct",
        action="store_true",
        help="ivr: drive the menu directly instead of through FastAGI and the Asterisk stand-in",
    )


def _input(line: str | None) -> Input:
    if line is None or line.strip().lower() in ("q", "quit", "hangup"):
        return HangUp()
    value = line.strip()
    return Digits(value) if value else NoInput()


def _ivr_channel(read: ReadLine, write: Write) -> ChannelEffects:
    async def channel_effects(effect: Effect, session: Session) -> EffectResult:
        for part in session.pending:
            write(render(Output((part,), Wait()), "ivr", session.lang).splitlines()[0] + "\n")
        if effect.name != "channel.transfer":
            write(f"  [{effect.name}: not simulated]\n")
            return EffectResult(ok=False, error="unsupported")
        answer = await read(f"  transfer to {effect.args.get('to')}: outcome {OUTCOMES}? ")
        outcome = (answer or "").strip() or "answered"
        if outcome == "answered":
            return EffectResult(ok=True, value={"outcome": "answered"})
        return EffectResult(ok=False, error=outcome if outcome in OUTCOMES else "failed")

    return channel_effects


async def walk(
    dialogue: Dialogue,
    menu: str,
    *,
    channel: str,
    msisdn: str,
    lang: str | None,
    read: ReadLine,
    write: Write,
    max_turns: int = 200,
) -> Session:
    """One session from the first output to the end (or end of input); returns the last state."""
    effects = _ivr_channel(read, write) if channel == "ivr" else None
    session, output = await dialogue.begin(
        menu, channel=channel, msisdn=msisdn, lang=lang, channel_effects=effects
    )
    for _ in range(max_turns):
        write(render(output, channel, session.lang))
        if output.ends:
            break
        inp = _input(await read("> "))
        session, output = await dialogue.resume(session, inp, channel_effects=effects)
        if isinstance(inp, HangUp):
            write("  [caller hung up]\n")
            break
    return session


async def _session(reactor: Any, args: argparse.Namespace, platform: Any, menus: Any,
                   validators: Mapping[str, Any], default_menu: str) -> None:
    from twisted.internet.threads import deferToThread

    from booking.store import RedisBookingService
    from dialogue.effects import booking_dialogue
    from storage import client as redis_client
    from storage.embedded import RedisProcess

    scratch: Path | None = None
    embedded: RedisProcess | None = None
    url = args.redis
    if url is None:
        scratch = Path(tempfile.mkdtemp(prefix="hotline-simulate-"))
        embedded = RedisProcess(data_dir=scratch, durable=False).start()
        url = embedded.url
    redis = await redis_client.connect(url)
    try:
        booking = RedisBookingService(redis, platform, clock=reactor)
        dialogue = booking_dialogue(menus, booking, reactor, validators)  # as serve wires it

        async def read(prompt: str) -> str | None:
            def blocking() -> str | None:
                sys.stdout.write(prompt)
                sys.stdout.flush()
                line = sys.stdin.readline()
                return line if line else None

            return await deferToThread(blocking)

        def write(text: str) -> None:
            sys.stdout.write(text)
            sys.stdout.flush()

        menu = args.menu or default_menu
        if args.channel == "ivr" and not args.direct:
            from menudesk.simulate_call import call

            await call(
                reactor,
                dialogue,
                menu=menu,
                msisdn=args.msisdn,
                lang=args.lang or "zh",
                read=read,
                write=write,
            )
            return
        await walk(
            dialogue,
            menu,
            channel=args.channel,
            msisdn=args.msisdn,
            lang=args.lang,
            read=read,
            write=write,
        )
    finally:
        await redis.disconnect()
        if embedded is not None:
            embedded.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def main(args: argparse.Namespace, *, platform: Any, menus: Any, validators: Mapping[str, Any],
         default_menu: str) -> int:
    """Run the simulation on what ``commands.main`` loaded from the settings (the hospitals, the
    menus) with the validators the server uses."""
    from twisted.internet import defer
    from twisted.internet.task import react

    try:
        react(lambda reactor: defer.ensureDeferred(
            _session(reactor, args, platform, menus, validators, default_menu)))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
