"""The SMS a server's SMSC simulator received, for a test driving a browser in another thread."""

from __future__ import annotations

import queue
import re


class Sms:
    """``on_sms`` is the server's ``on_sms`` (reactor thread); ``next`` waits in the browser's
    thread for a message to a number ending in ``to`` that matches ``pattern``."""

    def __init__(self, timeout_s: float = 20.0) -> None:
        self.queue: queue.Queue[tuple[str, str]] = queue.Queue()
        self.timeout_s = timeout_s

    def on_sms(self, to: str, source: str, text: str) -> None:
        self.queue.put((to, text))

    def next(self, to: str, pattern: str) -> re.Match[str]:
        while True:
            got_to, text = self.queue.get(timeout=self.timeout_s)  # blocks the browser's only
            found = re.search(pattern, text)
            if got_to.endswith(to) and found:
                return found
