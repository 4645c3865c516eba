"""Types the booking parts share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from booking.scripts import LuaScript


class SecondsClock(Protocol):
    """Epoch seconds: the reactor in production, ``task.Clock`` in tests."""

    def seconds(self) -> float: ...


Scripts = dict[str, "LuaScript"]  # by name: "hold", "cancel", ... (booking/<name>.lua)
