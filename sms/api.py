"""The SMS service as the rest of hotline sees it: hand over a message, never wait on the SMSC."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    to: str  # E.164 digits without '+'
    text: str
    key: str  # idempotency key: the same key is sent once (e.g. "booked:<tcode>")
    kind: str = ""  # message kind ("booked", "reminder", ...): validity and reporting
    valid_until: float | None = None  # unix seconds; not sent after this (a stale reminder)


class Sender(Protocol):
    def send(self, message: OutgoingSms) -> None:
        """Queue ``message`` for delivery and return at once. Duplicate keys are dropped."""
        ...
