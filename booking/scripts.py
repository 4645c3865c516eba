"""Lua scripts run by EVALSHA, so each call sends a 40-byte hash instead of the script body.

Redis forgets scripts on restart or ``SCRIPT FLUSH``; on NOSCRIPT the script is loaded again and
the call retried once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import txredisapi


class LuaScript:
    """A Lua script run by EVALSHA; on NOSCRIPT (Redis restarted or flushed) it is loaded again."""

    def __init__(self, redis: Any, name: str, *, lib: bool = True) -> None:
        """``name``: a ``booking/<name>.lua`` file; ``lib`` prepends the shared ``lib.lua``."""
        self.redis = redis
        here = Path(__file__).parent
        body = (here / f"{name}.lua").read_text(encoding="utf-8")
        self.source = ((here / "lib.lua").read_text(encoding="utf-8") + body) if lib else body
        self.sha = hashlib.sha1(self.source.encode("utf-8")).hexdigest()

    async def load(self) -> None:
        self.sha = await self.redis.script_load(self.source)

    async def __call__(self, keys_: Sequence[str], args: Sequence[object]) -> Any:
        argv = [str(a) for a in args]
        try:
            return await self.redis.evalsha(self.sha, list(keys_), argv)
        except txredisapi.ScriptDoesNotExist:
            await self.load()
            return await self.redis.evalsha(self.sha, list(keys_), argv)
