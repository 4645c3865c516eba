"""A ``hotline serve`` node as a real process tree for the workers tests: its log lines are
watched (Deferreds fire on a matching line, never a sleep), and HTTP goes over connections the
test holds, so a test knows which process served a request (``/healthz`` says its pid)."""

from __future__ import annotations

import json
import os
import re
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import ProcessProtocol
from twisted.web._newclient import HTTP11ClientProtocol, Request
from twisted.web.client import FileBodyProducer, readBody
from twisted.web.http_headers import Headers

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 20.0


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


def write_config(tmp_path: Path, redis_url: str, workers: int, menus: Path | None = None) -> Path:
    config = tmp_path / "hotline.yaml"
    config.write_text(
        f"redis: {{url: '{redis_url}'}}\n"
        "http: {port: 0}\n"
        "ivr: {fastagi: {port: 0}}\n"
        f"node: {{workers: {workers}}}\n"
        f"menus: ['{menus or ROOT / 'config/menus/booking.yaml'}']\n"
        f"hospital: '{ROOT}/config/hospital.yaml'\n"
        f"sms: {{templates: '{ROOT}/config/sms.yaml'}}\n"
        f"data_dir: '{tmp_path}'\n"
    )
    return config


class NodeProcess(ProcessProtocol):
    """``python -m commands.main --config X serve``; ``line(regex)`` fires on the first log line
    (seen before or after the call) that matches."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ended: defer.Deferred[int | None] = defer.Deferred()
        self._buffer = b""
        self._waiting: list[tuple[re.Pattern[str], int, defer.Deferred[re.Match[str]]]] = []

    @classmethod
    def start(cls, config: Path) -> NodeProcess:
        node = cls()
        argv = [sys.executable, "-m", "commands.main", "--config", str(config), "serve"]
        reactor().spawnProcess(node, argv[0], argv, env=dict(os.environ), path=str(ROOT))
        return node

    @property
    def pid(self) -> int:
        return int(self.transport.pid)  # type: ignore[union-attr]

    def outReceived(self, data: bytes) -> None:
        self._buffer += data
        *complete, self._buffer = self._buffer.split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            self.lines.append(line)
            for entry in list(self._waiting):
                found = entry[0].search(line)
                if found:
                    self._waiting.remove(entry)
                    entry[2].callback(found)

    errReceived = outReceived

    def line(self, pattern: str, *, after: int = 0) -> defer.Deferred[re.Match[str]]:
        """The first line from index ``after`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        for line in self.lines[after:]:
            found = regex.search(line)
            if found:
                return defer.succeed(found)
        d: defer.Deferred[re.Match[str]] = defer.Deferred()
        self._waiting.append((regex, after, d))

        def explain(failure: Any) -> Any:
            failure.trap(defer.TimeoutError)
            tail = "\n".join(self.lines[-40:])
            raise AssertionError(f"no line matched {pattern!r} in {TIMEOUT_S}s; last:\n{tail}")

        return d.addTimeout(TIMEOUT_S, reactor()).addErrback(explain)

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(getattr(reason.value, "exitCode", None))

    def exited(self) -> defer.Deferred[None]:
        """A new Deferred that fires when the process has ended (safe to time out)."""
        d: defer.Deferred[None] = defer.Deferred()
        self.ended.addBoth(lambda result: (d.called or d.callback(None), result)[1])
        return d

    def output(self) -> str:
        return "\n".join(self.lines)


class Connection:
    """One persistent HTTP/1.1 connection: every request on it reaches the same process."""

    def __init__(self, protocol: HTTP11ClientProtocol) -> None:
        self.protocol = protocol

    @classmethod
    async def open(cls, port: int) -> Connection:
        endpoint = TCP4ClientEndpoint(reactor(), "127.0.0.1", port)
        protocol = HTTP11ClientProtocol(quiescentCallback=lambda _: None)
        await connectProtocol(endpoint, protocol)
        return cls(protocol)

    async def request(self, method: bytes, path: bytes, body: bytes | None = None,
                      content_type: bytes = b"application/x-www-form-urlencoded"
                      ) -> tuple[int, str]:
        headers = Headers({b"host": [b"127.0.0.1"], b"content-type": [content_type]})
        producer = FileBodyProducer(BytesIO(body)) if body is not None else None
        request = Request(method, path, headers, producer, persistent=True)
        response = await self.protocol.request(request).addTimeout(TIMEOUT_S, reactor())
        return response.code, (await readBody(response)).decode("utf-8")

    async def pid(self) -> int:
        code, text = await self.request(b"GET", b"/healthz")
        assert code == 200, text
        return int(json.loads(text)["pid"])

    def close(self) -> None:
        self.protocol.transport.loseConnection()  # type: ignore[union-attr]


async def connections_to(
    port: int, pids: set[int], tries: int = 20, burst: int = 8
) -> dict[int, Connection]:
    """Open connections until one is served by each process in ``pids``; close the rest.

    They are opened ``burst`` at a time and held open together: one at a time, an idle main
    process could win every accept and never leave one for a worker."""
    found: dict[int, Connection] = {}
    for _ in range(tries):
        conns = await defer.gatherResults(
            [defer.ensureDeferred(Connection.open(port)) for _ in range(burst)]
        )
        served = await defer.gatherResults([defer.ensureDeferred(c.pid()) for c in conns])
        for conn, pid in zip(conns, served, strict=True):
            if pid in pids and pid not in found:
                found[pid] = conn
            else:
                conn.close()
        if set(found) == pids:
            return found
    raise AssertionError(f"no connection reached {pids - set(found)} in {tries} bursts")


class PidWatch:
    """Fires ``exited`` when a process (not our child) ends: a pidfd becomes readable."""

    def __init__(self, pid: int) -> None:
        self.fd = os.pidfd_open(pid)
        self.exited: defer.Deferred[None] = defer.Deferred()
        reactor().addReader(self)

    def fileno(self) -> int:
        return self.fd

    def doRead(self) -> None:
        reactor().removeReader(self)
        os.close(self.fd)
        self.exited.callback(None)

    def connectionLost(self, reason: Any) -> None:
        pass

    def logPrefix(self) -> str:
        return "PidWatch"
