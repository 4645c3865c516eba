"""The pipe pair between the main process and a worker: one JSON object per line.

Main → worker (the worker's stdin): first ``{"op": "boot", ...}`` (settings, Redis URL, listening
fds, log level), then ``reload`` (menus) and ``sms_bound`` (state shown by ``/api/admin/sms``
and ``/metrics``). Worker → main (the worker's fd 3): ``ready`` and ``sms`` (a message for the
main process's SMPP sender: the ``$sms`` help text of a menu). Metrics do not travel here: every
process writes them to the node's multiprocess directory (``metrics``). The worker's
stdin closing means the main process stopped it or died: the worker then stops by itself.
"""

from __future__ import annotations

import json
import os
import select
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from sms.api import OutgoingSms

log = Logger()

WORKER_OUT_FD = 3  # the worker writes its messages to this fd (its stdout stays for logs)
MAX_LINE = 1 << 20

Message = dict[str, Any]


def encode(message: Message) -> bytes:
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode() + b"\n"


class LineBuffer:
    """Splits a byte stream into decoded messages; a bad line is logged and skipped."""

    def __init__(self, on_message: Callable[[Message], None]) -> None:
        self._buffer = b""
        self._on_message = on_message

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > MAX_LINE and b"\n" not in self._buffer:
            log.error("node.link_line_too_long bytes={n}", n=len(self._buffer))
            self._buffer = b""
            return
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                message = json.loads(line)
            except ValueError:
                log.error("node.link_bad_line bytes={n}", n=len(line))
                continue
            if isinstance(message, dict):
                self._on_message(message)


class MainLink(Protocol):
    """The worker's end: reads the main process's messages from stdin, writes to fd 3.

    ``boot`` fires with the first message; ``closed`` fires when stdin closes. Other messages go
    to the handler of their ``op`` (set with ``on``)."""

    def __init__(self) -> None:
        self.boot: defer.Deferred[Message] = defer.Deferred()
        self.closed: defer.Deferred[None] = defer.Deferred()
        self.handlers: dict[str, Callable[[Message], None]] = {}
        self._lines = LineBuffer(self._dispatch)

    def on(self, op: str, handler: Callable[[Message], None]) -> None:
        self.handlers[op] = handler

    def send(self, message: Message) -> None:
        if self.transport is not None and not self.closed.called:
            self.transport.write(encode(message))

    def dataReceived(self, data: bytes) -> None:
        self._lines.feed(data)

    def _dispatch(self, message: Message) -> None:
        if not self.boot.called:
            self.boot.callback(message)
            return
        handler = self.handlers.get(str(message.get("op")))
        if handler is None:
            log.warn("node.link_unknown_op op={op}", op=str(message.get("op"))[:40])
            return
        try:
            handler(message)
        except Exception:
            log.failure("node.link_handler_failed op={op}", op=message.get("op"))

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        if not self.boot.called:
            self.boot.errback(RuntimeError("the main process closed the link before booting us"))
        if not self.closed.called:
            self.closed.callback(None)


class WholeLines:
    """The log stream of a node's processes, which all write to the same stdout: each write(2)
    carries whole lines and at most ``PIPE_BUF`` bytes, so it is atomic on a pipe and the lines
    of two processes never interleave mid-line (a buffered ``sys.stdout`` cuts anywhere)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        if not self._parts:
            return
        data = "".join(self._parts).encode("utf-8", "replace")
        self._parts.clear()
        start = 0
        while start < len(data):
            end = min(start + select.PIPE_BUF, len(data))
            if end < len(data):
                cut = data.rfind(b"\n", start, end)
                end = cut + 1 if cut >= start else end  # a longer line is cut
            view = memoryview(data)[start:end]
            while view:
                view = view[os.write(self.fd, view):]
            start = end


class RemoteSender:
    """``sms.api.Sender`` of a worker: hands the message to the main process's SMPP sender
    (which dedups by key and goes through the durable outbox). ``bound`` mirrors the main's bind."""

    def __init__(self, link: MainLink) -> None:
        self.link = link
        self.bound = False
        link.on("sms_bound", self._bound)

    def _bound(self, message: Message) -> None:
        self.bound = bool(message.get("value"))

    def send(self, message: OutgoingSms) -> defer.Deferred[bool]:
        self.link.send({"op": "sms", "to": message.to, "text": message.text, "key": message.key,
                        "kind": message.kind, "valid_until": message.valid_until})
        return defer.succeed(True)


def sms_from(message: Message) -> OutgoingSms:
    """The ``sms`` message a worker sent, checked (it crosses a process boundary)."""
    valid = message.get("valid_until")
    return OutgoingSms(to=str(message["to"]), text=str(message["text"]), key=str(message["key"]),
                       kind=str(message.get("kind", "")),
                       valid_until=float(valid) if valid is not None else None)
