"""The one error type of the menu package, so callers catch configuration problems in one place."""

from __future__ import annotations


class MenuError(ValueError):
    """A menu file or a running menu is wrong; the message says where (``file:line:col: ...``)."""
