"""Twin of ``sms.api.Sender`` for other packages' tests: records what would have been sent."""

from __future__ import annotations

from sms.api import OutgoingSms


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self._keys: set[str] = set()

    def send(self, message: OutgoingSms) -> None:
        if message.key in self._keys:
            return
        self._keys.add(message.key)
        self.sent.append(message)
