"""The load generator of bench/ussd_http.py: callers booking over keep-alive HTTP/1.1 on raw
sockets, a closed loop (each answer triggers the next hop) and a paced run (hops offered at a
fixed rate, latency from each hop's scheduled time, so a late client cannot hide a stall)."""

from __future__ import annotations

import os
import re
import selectors
import socket
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from booking.idcard import check_char

TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
DEPTS = [("nk", "内科"), ("wk", "外科"), ("ek", "儿科"), ("yk", "眼科"), ("pfk", "皮肤科")]


class Caller:
    """One patient booking once: dial, then department, day, session, ID, confirm."""

    counter = 0

    def __init__(self) -> None:
        Caller.counter += 1
        n = Caller.counter
        self.sid = f"b{os.getpid()}-{n}"
        self.phone = f"+86139{n:08d}"
        birth = 19500101 + (n // 1000) % 28 + 100 * ((n // 28000) % 12)
        first17 = f"110105{birth}{n % 1000:03d}"
        keyed = (first17 + check_char(first17)).replace("X", "*")
        # welcome, department, day, session, ID (X keyed as *), confirm
        self.answers = ["1", str(n % len(DEPTS) + 1), str((n // 5) % 5 + 1), str(n % 2 + 1),
                        keyed, "1"]
        self.hop = 0
        self.text = ""

    def request(self, path: bytes) -> bytes:
        if self.hop > 0:
            value = self.answers[self.hop - 1]
            self.text = f"{self.text}*{value}" if self.text else value
        body = urlencode({"sessionId": self.sid, "serviceCode": "*125#",
                          "phoneNumber": self.phone, "networkCode": "46000",
                          "text": self.text}).encode()
        return _post(path, body)

    def answered(self, status: int, body: str) -> tuple[bool, bool]:
        """(ok, booking finished)."""
        last = self.hop == len(self.answers)
        self.hop += 1
        if status != 200:
            return False, True
        if last:
            return body.startswith("END ") and len(TCODE.findall(body)) == 1, True
        return body.startswith("CON "), False


def _post(path: bytes, body: bytes) -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: bench\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


BARE_REQUEST = _post(b"/", urlencode({"sessionId": "ATUid_bench_000001", "serviceCode": "*125#",
                                       "phoneNumber": "+8613900000000", "networkCode": "46000",
                                       "text": "1*1*1"}).encode())


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.caller: Caller | None = None
        self.sent_at = 0.0
        self.sent_real = 0.0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)  # small requests: the socket buffer always has room

    def read(self) -> list[tuple[int, bytes]]:
        """Complete responses received so far: (status, body)."""
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return []
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                break
            status = int(head.split(" ", 2)[1])
            out.append((status, self.buf[end + 4 : end + 4 + length]))
            self.buf = self.buf[end + 4 + length :]
        return out


def closed_loop(port: int, conns: int, seconds: float, warmup: float, ours: bool) -> dict[str, Any]:
    """Each connection sends its next request as soon as the previous answer is in."""
    sel = selectors.DefaultSelector()
    pool = [Conn(port) for _ in range(conns)]
    path = b"/ussd/at"
    counted = errors = bookings = 0
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def fire(c: Conn) -> None:
        if ours:
            if c.caller is None:
                c.caller = Caller()
            c.send(c.caller.request(path))
        else:
            c.send(BARE_REQUEST)

    for c in pool:
        sel.register(c.sock, selectors.EVENT_READ, c)
        fire(c)
    now = start
    while now < stop_at:
        for key, _ in sel.select(0.5):
            c = key.data
            for status, body in c.read():
                now = time.perf_counter()
                measuring = measure_from <= now < stop_at
                ok, finished = True, False
                if ours:
                    assert c.caller is not None
                    ok, finished = c.caller.answered(status, body.decode("utf-8", "replace"))
                    if finished:
                        bookings += measuring and ok
                        c.caller = None
                elif status != 200:
                    ok = False
                if measuring:
                    counted += 1
                    errors += not ok
                fire(c)
        now = time.perf_counter()
    for c in pool:
        sel.unregister(c.sock)
        c.sock.close()
    return {"rate": counted / seconds, "errors": errors, "bookings_per_s": bookings / seconds}


def paced(port: int, rate: float, seconds: float, max_conns: int = 512) -> dict[str, Any]:
    """Offer ``rate`` hops/s; latency runs from each hop's scheduled time to its answer."""
    sel = selectors.DefaultSelector()
    idle: deque[Conn] = deque()
    opened = 0
    ready: deque[Caller] = deque()
    lat: list[float] = []
    lat_sent: list[float] = []  # from the moment the request really left (generator lag excluded)
    errors = late = 0
    path = b"/ussd/at"
    interval = 1.0 / rate
    total = int(rate * seconds)
    t0 = time.perf_counter() + 0.05
    sent = 0
    in_flight = 0
    while sent < total or in_flight:
        now = time.perf_counter()
        starved = False
        while sent < total and now >= t0 + sent * interval:
            if not idle:
                if opened >= max_conns:
                    late += 1
                    starved = True  # every connection busy: wait for an answer, do not spin
                    break
                c = Conn(port)
                opened += 1
                sel.register(c.sock, selectors.EVENT_READ, c)
                idle.append(c)
            c = idle.popleft()
            c.caller = ready.popleft() if ready else Caller()
            c.sent_at = t0 + sent * interval
            c.send(c.caller.request(path))
            c.sent_real = time.perf_counter()
            sent += 1
            in_flight += 1
        timeout = max(0.0, t0 + sent * interval - time.perf_counter()) if sent < total else 0.5
        if starved:
            timeout = 0.5
        for key, _ in sel.select(timeout):
            c = key.data
            for status, body in c.read():
                done = time.perf_counter()
                in_flight -= 1
                lat.append((done - c.sent_at) * 1000)
                lat_sent.append((done - c.sent_real) * 1000)
                caller = c.caller
                assert caller is not None
                ok, finished = caller.answered(status, body.decode("utf-8", "replace"))
                errors += not ok
                if not finished:
                    ready.append(caller)
                c.caller = None
                idle.append(c)
    for key in list(sel.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]
    lat.sort()
    lat_sent.sort()

    def pct(p: float, values: list[float] = lat) -> float:
        return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else float("nan")

    achieved = len(lat) / (time.perf_counter() - t0)
    return {"p50": pct(50), "p99": pct(99), "max": lat[-1] if lat else float("nan"),
            "errors": errors, "hops": len(lat), "achieved": achieved, "conns": opened,
            "stalled": late, "p99_sent": pct(99, lat_sent)}
