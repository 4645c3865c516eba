"""The async shell around the engine: run effects until the caller has something to see.

Channels call ``Dialogue.begin``/``resume`` and render the ``Output``. ``run_effect`` is any async
callable (a coroutine function or one returning a Twisted Deferred): we only ``await`` it, so this
module imports no Twisted and works under whatever drives the coroutine.

Effects named ``channel.*`` (``channel.transfer`` to an operator) belong to the channel, not to
booking: ``begin``/``resume`` take them as ``channel_effects``; without one they answer
``unsupported`` (USSD cannot transfer). ``session.pending`` holds what earlier ``say`` nodes
queued; a channel that handles the effect plays it first, so the driver clears it afterwards.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import structlog

from menus.definition import MenuDefinition, MenuSource
from menus.engine import Validators, fail, start, step
from menus.errors import MenuError
from menus.types import Effect, EffectResult, Input, Output, Session, Start
from menus.validators import DEFAULT_VALIDATORS

__all__ = ["CHANNEL_PREFIX", "ChannelEffects", "Dialogue", "DialogueLike", "RunEffect"]

RunEffect = Callable[[Effect, Session], Awaitable[EffectResult] | EffectResult]
# (menu, version) -> that version from elsewhere (another node stored it), or None
FetchVersion = Callable[[str, str], Awaitable[MenuDefinition | None]]
ChannelEffects = Callable[[Effect, Session], Awaitable[EffectResult]]
CHANNEL_PREFIX = "channel."
log = structlog.get_logger("menus.driver")


class DialogueLike(Protocol):
    """What a channel needs of ``Dialogue``: the one contract every channel codes against, so
    a channel's tests may drive it with a small stand-in instead of menus and booking."""

    async def begin(
        self,
        menu: str,
        *,
        channel: str,
        msisdn: str,
        lang: str | None = None,
        channel_effects: ChannelEffects | None = None,
        entry: str = "",
    ) -> tuple[Session, Output]: ...

    async def resume(
        self, session: Session, inp: Input, *, channel_effects: ChannelEffects | None = None
    ) -> tuple[Session, Output]: ...


class Dialogue:
    """Drives menu sessions for a channel: ``begin`` a menu, then ``resume`` with each input."""

    def __init__(
        self,
        source: MenuSource,
        run_effect: RunEffect,
        validators: Validators | None = None,
        *,
        max_effects: int = 20,
        on_begin: Callable[[Session], None] | None = None,
        preferred_lang: Callable[[str, str], Awaitable[str | None]] | None = None,
        fetch_version: FetchVersion | None = None,
    ) -> None:
        """``on_begin(session)`` hears of every dialogue that starts, before its first step
        (the shell starts reads the caller will probably need: ``dialogue.prefetch``);
        ``preferred_lang(channel, msisdn)``: the language a caller chose before, used when the
        channel names none. ``fetch_version`` finds a version this process does not hold (a
        dialogue begun on another node, or before a restart, on a version since replaced) so the
        dialogue goes on as it began; without it, or when it finds nothing, the latest version
        is used."""
        self._preferred_lang = preferred_lang
        self._source = source
        self._fetch_version = fetch_version
        self._run_effect = run_effect
        self._on_begin = on_begin
        self._validators: Mapping[str, Callable[[str], bool]] = {
            **DEFAULT_VALIDATORS,
            **(validators or {}),
        }
        self._max_effects = max_effects

    @property
    def source(self) -> MenuSource:
        """The menus this dialogue runs (``source.add(new)`` reloads one)."""
        return self._source

    async def begin(
        self,
        menu: str,
        *,
        channel: str,
        msisdn: str,
        lang: str | None = None,
        channel_effects: ChannelEffects | None = None,
        entry: str = "",
    ) -> tuple[Session, Output]:
        """Start ``menu`` (KeyError if unknown) and return the first thing to show; ``entry``:
        what the entry point chose (the menu's ``{entry}``, e.g. a hospital code)."""
        definition = self._source.get(menu)
        if lang is None and self._preferred_lang is not None and msisdn:
            lang = await self._preferred_lang(channel, msisdn)
        session = start(definition, channel=channel, msisdn=msisdn, lang=lang, entry=entry)
        if self._on_begin is not None:
            self._on_begin(session)
        return await self._drive(definition, session, Start(), channel_effects)

    async def resume(
        self, session: Session, inp: Input, *, channel_effects: ChannelEffects | None = None
    ) -> tuple[Session, Output]:
        """Feed one input (digits, no-input, hang-up) and return the next output."""
        if self._fetch_version is not None and not self._source.has(session.menu,
                                                                    session.version):
            try:
                found = await self._fetch_version(session.menu, session.version)
            except Exception as err:  # the latest version is the fallback, as without a fetch
                log.warning("menu_version_fetch_failed", menu=session.menu,
                            version=session.version, error=repr(err))
                found = None
            if found is not None:
                self._source.keep(found)
            else:
                log.warning("menu_version_missing", menu=session.menu, version=session.version)
        definition = self._source.get(session.menu, session.version)
        return await self._drive(definition, session, inp, channel_effects)

    async def _drive(
        self,
        definition: MenuDefinition,
        session: Session,
        inp: Input,
        channel_effects: ChannelEffects | None,
    ) -> tuple[Session, Output]:
        effects = 0
        while True:
            try:
                result = step(definition, session, inp, validators=self._validators)
            except MenuError as err:
                log.error("menu_failed", menu=definition.name, node=session.node, error=str(err))
                result = fail(definition, session)
            session = result.session
            if result.output is not None:
                return session, result.output
            assert result.effect is not None
            if effects >= self._max_effects:
                break
            effects += 1
            if result.effect.name.startswith(CHANNEL_PREFIX):
                if channel_effects is None:
                    inp = EffectResult(ok=False, error="unsupported")
                else:
                    inp = await self._effect(channel_effects, result.effect, session)
                    session = session.evolve(pending=())  # the channel has played them
            else:
                inp = await self._effect(self._run_effect, result.effect, session)
        log.error("menu_effect_loop", menu=definition.name, node=session.node)
        result = fail(definition, session)
        assert result.output is not None
        return result.session, result.output

    async def _effect(
        self, runner: RunEffect, effect: Effect, session: Session
    ) -> EffectResult:
        """Run one effect; any exception or odd return value becomes ``error``."""
        try:
            value: Any = runner(effect, session)
            if inspect.isawaitable(value):
                value = await value
        except Exception as err:
            log.warning("effect_failed", effect=effect.name, node=session.node, error=repr(err))
            return EffectResult(ok=False, error="error")
        if not isinstance(value, EffectResult):
            log.warning("effect_bad_result", effect=effect.name, result_type=type(value).__name__)
            return EffectResult(ok=False, error="error")
        return value
