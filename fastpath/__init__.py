"""The fast path: the only code of hotline that reaches into Twisted's and txredisapi's internals.

Three pieces, each measured on and off in the same run (what each buys: bench/RESULTS.md,
"Fast path"); each falls back to the public API when the internals it checks are not there:

- ``fastpath.send``: a small write goes straight to the socket instead of waiting for the end
  of the reactor turn (AGI commands, answers the HTTP port writes, the first Redis request of a
  turn). Buys CPU and round-trip time per lone Redis request; little per hop under load.
- ``fastpath.redis``: txredisapi's protocol and pool handle with a leaner request encoder and
  one Deferred per command. Buys client CPU per Redis command, and with it CPU per hop.
- ``http``, the lean gateway answers (``enabled("http")``, read by ``ussd.httpport``):
  requests to the USSD gateway routes are answered straight from the port's httptools reader
  instead of being handed to twisted.web's ``HTTPChannel``. Buys the most CPU per USSD hop.

With the fast path off (``node.fast_path: false``) hotline runs on stock txredisapi,
``transport.write``, and twisted.web answers every HTTP request (the port's limits still hold:
``ussd.httpport`` reads every request first on both paths, and hands it to twisted.web's
``HTTPChannel``). The test suite runs both ways in CI; ``tests/fastpath/
test_fastpath_versions.py`` names the Twisted and txredisapi releases the pieces were last
checked against, and fails after an upgrade until they are checked again.

``HOTLINE_FAST_PATH`` in the environment (``0``/``1``, or the names of the pieces to keep on,
e.g. ``send,redis``) overrides the setting: for CI and for measuring one piece at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

PIECES = frozenset({"send", "redis", "http"})
ENV = "HOTLINE_FAST_PATH"

# Checked against these releases (tests/fastpath/test_versions.py compares the installed ones).
CHECKED_AGAINST = {"twisted": "26.10.0", "txredisapi": "1.6.0"}


def _from_env() -> frozenset[str] | None:
    value = os.environ.get(ENV)
    if value is None or value.strip() == "":
        return None
    value = value.strip().lower()
    if value in ("0", "false", "off", "no"):
        return frozenset()
    if value in ("1", "true", "on", "yes"):
        return PIECES
    names = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = names - PIECES
    if unknown:
        raise ValueError(f"{ENV}: unknown fast path pieces {sorted(unknown)} "
                         f"(known: {sorted(PIECES)}, or 0/1)")
    return names


_on: frozenset[str] = PIECES if _from_env() is None else _from_env()  # type: ignore[assignment]


def configure(on: bool | Iterable[str]) -> frozenset[str]:
    """Switch the fast path on or off for this process (``node.fast_path``), unless
    ``HOTLINE_FAST_PATH`` is set, which wins. Returns the pieces now on. Components read it
    when they build a connection or a factory, so call this before starting them."""
    global _on
    forced = _from_env()
    if forced is not None:
        _on = forced
    elif isinstance(on, bool):
        _on = PIECES if on else frozenset()
    else:
        wanted = frozenset(on)
        if wanted - PIECES:
            raise ValueError(f"unknown fast path pieces {sorted(wanted - PIECES)}")
        _on = wanted
    return _on


def force(on: Iterable[str]) -> None:
    """Exactly ``on`` from now, whatever the environment says: for benchmarks that measure one
    piece against another in the same process."""
    global _on
    wanted = frozenset(on)
    if wanted - PIECES:
        raise ValueError(f"unknown fast path pieces {sorted(wanted - PIECES)}")
    _on = wanted


def enabled(piece: str) -> bool:
    """Whether ``piece`` (``send``, ``redis`` or ``http``) of the fast path is on."""
    return piece in _on


def pieces() -> frozenset[str]:
    """The pieces on in this process."""
    return _on
