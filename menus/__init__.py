"""menus: the YAML menu language, its loader, the pure engine and the async driver.

What the channels and the composition root use: a definition is loaded (``load_menu``) and
checked (the ``inspect`` module: ``menus.inspect.inspect`` lists a menu's problems); a
``Dialogue`` steps the pure engine (``step``) and hands each ``Effect`` to the channel; the
values in ``menus.types`` (``Session``, inputs, ``Output`` and its parts) cross to the channels.
"""

from __future__ import annotations

from menus import inspect
from menus.definition import (
    PAGING_KEYS,
    MenuDefinition,
    MenuError,
    MenuSource,
    load_menu,
    load_menu_bytes,
    load_menu_sources,
)
from menus.driver import ChannelEffects, Dialogue, DialogueLike, FetchVersion
from menus.engine import Validators, step
from menus.template import Template, render_parts
from menus.types import (
    Digits,
    Effect,
    EffectResult,
    HangUp,
    Input,
    NoInput,
    Output,
    Say,
    SayDigits,
    Session,
    Slot,
    Wait,
)

__all__ = [
    "PAGING_KEYS",
    "ChannelEffects",
    "Dialogue",
    "DialogueLike",
    "Digits",
    "Effect",
    "EffectResult",
    "FetchVersion",
    "HangUp",
    "Input",
    "MenuDefinition",
    "MenuError",
    "MenuSource",
    "NoInput",
    "Output",
    "Say",
    "SayDigits",
    "Session",
    "Slot",
    "Template",
    "Validators",
    "Wait",
    "inspect",
    "load_menu",
    "load_menu_bytes",
    "load_menu_sources",
    "render_parts",
    "step",
]
