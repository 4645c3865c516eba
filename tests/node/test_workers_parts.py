"""The pieces of ``node.workers`` that need no process tree: the setting, the restart backoff,
the message framing between processes, and a shared socket adopted twice in one process."""

from __future__ import annotations

import os
import select
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import defer
from twisted.internet.testing import StringTransport
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import Site

from commands.main import main as cli_main
from node.link import LineBuffer, MainLink, RemoteSender, WholeLines, encode, sms_from
from node.sharedport import adopt as adopt_port
from node.sharedport import bind
from node.workers import Backoff, worker_count
from settings.schema import SettingsError, load_settings
from sms.api import OutgoingSms


def test_workers_default_to_one_and_auto_means_one_per_cpu(tmp_path: Path) -> None:
    assert load_settings(None).workers == 1
    assert worker_count("auto", cpus=lambda: 6) == 6
    assert worker_count("auto", cpus=lambda: None) == 1
    f = tmp_path / "hotline.yaml"
    f.write_text("node: {workers: 3}\n")
    assert load_settings(f).workers == 3


@pytest.mark.parametrize("value", ["0", "-2", "'many'", "1.5", "true"])
def test_a_bad_worker_count_stops_the_start(tmp_path: Path, value: str) -> None:
    f = tmp_path / "hotline.yaml"
    f.write_text(f"node: {{workers: {value}}}\n")
    with pytest.raises(SettingsError, match=r"node\.workers: must be a whole number"):
        load_settings(f)


def test_the_cli_flag_is_checked_like_the_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["serve", "--workers", "none"]) == 2
    assert "command line: node.workers: must be a whole number" in capsys.readouterr().err


def test_restart_backoff_doubles_to_a_ceiling() -> None:
    backoff = Backoff(first_s=0.5, max_s=30.0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff.delay(20) == 30.0


def test_messages_survive_any_split_and_bad_lines_are_skipped() -> None:
    got: list[dict[str, Any]] = []
    lines = LineBuffer(got.append)
    data = encode({"op": "ready", "pid": 7}) + b"{not json\n" + encode({"op": "reload"})
    for i in range(len(data)):  # one byte at a time
        lines.feed(data[i : i + 1])
    assert got == [{"op": "ready", "pid": 7}, {"op": "reload"}]


def test_an_sms_crosses_the_pipe_unchanged() -> None:
    message = OutgoingSms("8613912345678", "怎么预约：拨打12580", "help:1:2", "mo_reply", 99.5)
    got: list[dict[str, Any]] = []
    link = MainLink()
    link.transport = StringTransport()  # type: ignore[assignment]
    RemoteSender(link).send(message)  # what a worker writes to fd 3
    LineBuffer(got.append).feed(link.transport.value())  # type: ignore[attr-defined]
    assert sms_from(got[0]) == message


class Pid(Resource):
    isLeaf = True

    def __init__(self, name: bytes) -> None:
        super().__init__()
        self.name = name

    def render_GET(self, request: Any) -> bytes:
        return self.name


@pytest_twisted.ensureDeferred
async def test_two_adopters_of_one_socket_share_a_burst() -> None:
    """Two ports on one listening socket (as main and worker hold it): each accepts a few per
    wakeup, so neither takes a whole burst; port 0 gives one port for both."""
    from twisted.internet import reactor

    sock = bind("127.0.0.1", 0, 128)
    ports = [adopt_port(reactor, sock.fileno(), Site(Pid(name))) for name in (b"a", b"b")]
    try:
        assert ports[0].getHost().port == ports[1].getHost().port == sock.getsockname()[1]
        pool = HTTPConnectionPool(reactor, persistent=False)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        names = await defer.gatherResults(
            [treq.get(url, pool=pool).addCallback(treq.content) for _ in range(30)]
        )
        assert set(names) == {b"a", b"b"}
    finally:
        for port in ports:
            await port.stopListening()
        sock.close()


def test_log_lines_of_several_processes_are_written_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read_fd, write_fd = os.pipe()
    stream = WholeLines(write_fd)
    lines = [f"2026-11-25T23:00:00 [info] line {n} " + "x" * (n % 300) + "\n" for n in range(200)]
    for line in lines:
        stream.write(line)
    sizes: list[int] = []
    original = os.write

    def recording(fd: int, data: Any) -> int:
        sizes.append(len(data))
        assert bytes(data).endswith(b"\n")  # every write(2) ends on a line boundary
        return original(fd, data)

    monkeypatch.setattr(os, "write", recording)
    stream.flush()
    monkeypatch.undo()
    os.close(write_fd)
    received = b""
    while chunk := os.read(read_fd, 65536):
        received += chunk
    os.close(read_fd)
    assert received.decode() == "".join(lines)
    assert len(sizes) > 1 and max(sizes) <= select.PIPE_BUF
