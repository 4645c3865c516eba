"""MT SMS throughput of hotline's SMPP sender against an SMSC we did not write, with a bare
loop measured in the same run against the same SMSC.

    .venv/bin/python bench/smpp_mt.py [--count 20000] [--tps-seconds 10]

Starts its own redis-server (AOF, appendfsync always: the durable outbox as deployed) and the
npm-smpp SMSC (tests/peers/smsc.js --quiet) as separate processes, then in this process:

1. ours: ``SmppSender`` (window 64, registered_delivery=1) over ``RedisOutbox``; every
   message goes through ``send()`` -> Redis -> submit_sm; rate = messages / (first send ->
   last submit_sm_resp); p50/p99 submit_sm -> resp; then waits for every delivery receipt and
   counts messages whose outbox state became ``delivered`` (receipt correlated to its key).
2. bare: one socket, bind_transceiver, 64 submit_sm in flight, each encoded with our codec
   and written, resps counted from the header only, receipts acked from the header only.
3. tps: a fresh sender with tps=200 and 1.3x as many messages as fit; rate over 10 s.

Last line: ``BENCH smpp_mt rate=<n> ratio=<ours/bare> dlr_ok=<fraction> tps_err=<e>``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started, stop  # noqa: E402
from twisted.internet import defer, protocol, task  # noqa: E402

from sms.api import OutgoingSms  # noqa: E402
from sms.redis_outbox import RedisOutbox  # noqa: E402
from sms.service import SmppSender  # noqa: E402
from sms.smpp.pdu import Pdu, encode_pdu  # noqa: E402
from storage.client import connect  # noqa: E402
from storage.embedded import RedisProcess  # noqa: E402

TO = "8613800138000"
TEXT = "【深圳市第一人民医院】预约成功：内科 11月27日 星期五 上午，取号码4820193756。请凭此码签到。"
WINDOW = 64
LIMIT_S = 120.0  # every wait has a ceiling


def start_peer() -> tuple[subprocess.Popen[bytes], int]:
    node = shutil.which("node")
    if node is None or not (ROOT / "tests/peers/node_modules/smpp").is_dir():
        sys.exit("needs node and `npm install --prefix tests/peers`")
    proc = started(subprocess.Popen([node, str(ROOT / "tests/peers/smsc.js"), "0", "--quiet"],
                                    stdout=subprocess.PIPE, cwd=ROOT / "tests/peers"))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    import json

    try:
        return proc, int(json.loads(line)["listening"])
    except (ValueError, KeyError):
        sys.exit(f"the SMSC peer did not start: {line[:200]!r}")


async def until(reactor: Any, predicate: Any, what: str, limit: float = LIMIT_S) -> None:
    """Check every 10 ms up to ``limit`` seconds (bind, first resp: not on the hot path)."""
    deadline = reactor.seconds() + limit
    while not predicate():
        if reactor.seconds() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await task.deferLater(reactor, 0.01, lambda: None)


class Counted(list):  # type: ignore[type-arg]
    """The sender's latency list; fires ``reached`` when it holds ``target`` entries."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.reached: defer.Deferred[None] = defer.Deferred()

    def append(self, value: Any) -> None:
        super().append(value)
        if len(self) == self.target:
            self.reached.callback(None)


async def run_ours(reactor: Any, port: int, redis: Any, count: int, tag: str,
                   tps: float | None = None, seconds: float | None = None) -> dict[str, Any]:
    outbox = RedisOutbox(redis, reactor, prefix=f"hl:{{bench{tag}}}:")
    receipts = Counted(count)
    sender = SmppSender("127.0.0.1", port, "bench", "", "12580", reactor=reactor,
                        window=WINDOW, tps=tps, outbox=outbox,
                        on_receipt=lambda key, r: receipts.append(key))
    sender.latencies = lat = Counted(count)
    sender.startService()
    await until(reactor, lambda: sender.bound and sender._ready, "bind")
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(count):
        sender.send(OutgoingSms(TO, TEXT, f"{tag}:{i}", "bench"))
    result: dict[str, Any] = {}
    if seconds is not None:  # TPS run: count resps over a fixed span from the first one
        await until(reactor, lambda: len(lat) > 0, "first resp")
        start = len(lat)
        await task.deferLater(reactor, seconds, lambda: None)
        result["achieved"] = (len(lat) - start) / seconds
    else:
        await lat.reached.addTimeout(LIMIT_S, reactor)
        elapsed = time.perf_counter() - t0
        lat.sort()
        cpu = 100 * (time.process_time() - cpu0) / elapsed
        result.update(rate=count / elapsed, elapsed=elapsed, cpu=cpu,
                      p50=lat[len(lat) // 2] * 1000, p99=lat[int(len(lat) * 0.99) - 1] * 1000)
        with contextlib.suppress(defer.TimeoutError):  # what did not arrive counts as failed
            await receipts.reached.addTimeout(30, reactor)
        await task.deferLater(reactor, 0.05, lambda: None)  # last receipt batch written
        states = await defer.gatherResults(
            [redis.hget(f"{outbox.prefix}m:{tag}:{i}", "state") for i in range(count)])
        result["dlr_ok"] = sum(s == "delivered" for s in states) / count
    await sender.stopService()
    return result


class Bare(protocol.Protocol):
    """The floor: encode, write, count resps by header; no outbox, no Deferreds."""

    def __init__(self, count: int, done: defer.Deferred[float]) -> None:
        self.count, self.done = count, done
        self.sent = self.resps = 0
        self.seq = 1
        self.buf = b""
        self.t0 = 0.0

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        self.transport.write(encode_pdu(Pdu("bind_transceiver", 1, 0, {
            "system_id": "bare", "password": "", "interface_version": 0x34})))

    def submit(self) -> None:
        self.seq += 1
        self.sent += 1
        self.transport.write(encode_pdu(Pdu("submit_sm", self.seq, 0, {
            "source_addr": "12580", "dest_addr_ton": 1, "dest_addr_npi": 1,
            "destination_addr": TO, "registered_delivery": 1, "data_coding": 8,
            "short_message": TEXT.encode("utf-16-be")})))

    def dataReceived(self, data: bytes) -> None:
        buf = self.buf + data
        i = 0
        while len(buf) - i >= 16:
            length, cid, _status, seq = struct.unpack_from(">IIII", buf, i)
            if len(buf) - i < length:
                break
            i += length
            if cid == 0x80000004:
                self.resps += 1
                if self.sent < self.count:
                    self.submit()
                elif self.resps == self.count:
                    self.done.callback(time.perf_counter() - self.t0)
            elif cid == 0x00000005:  # a receipt: ack it
                self.transport.write(struct.pack(">IIII", 17, 0x80000005, 0, seq) + b"\0")
            elif cid == 0x80000009:
                self.t0 = time.perf_counter()
                for _ in range(min(WINDOW, self.count)):
                    self.submit()
        self.buf = buf[i:]


async def run_bare(reactor: Any, port: int, count: int) -> tuple[float, float]:
    done: defer.Deferred[float] = defer.Deferred()
    proto = Bare(count, done)
    endpoint = protocol.ClientCreator(reactor, lambda: proto)
    await endpoint.connectTCP("127.0.0.1", port)
    cpu0 = time.process_time()
    elapsed = await done.addTimeout(LIMIT_S, reactor)
    proto.transport.loseConnection()
    cpu = 100 * (time.process_time() - cpu0) / elapsed
    return count / elapsed, cpu


async def main(reactor: Any, opts: argparse.Namespace) -> None:
    peer, port = start_peer()  # first: without a peer nothing else is started
    tmp = Path(tempfile.mkdtemp(prefix="smpp_mt-"))
    try:
        redis_proc = started(RedisProcess(data_dir=tmp, durable=not opts.no_durable).start())
        redis = await connect(redis_proc.url)
    except BaseException:
        stop(peer)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        persistence = "no persistence" if opts.no_durable else "AOF appendfsync always"
        print(f"smpp_mt: SMSC npm smpp (tests/peers/smsc.js --quiet, port {port}); redis "
              f"{persistence}; window {WINDOW}; {opts.count} messages, UCS2, 1 part, "
              f"registered_delivery=1")
        warm = max(opts.count // 10, 100)
        await run_bare(reactor, port, warm)
        await run_ours(reactor, port, redis, warm, "warm")
        bare, bare_cpu = await run_bare(reactor, port, opts.count)
        print(f"bare : {bare:,.0f} submit_sm/s (encode, write, count resps by header); "
              f"client CPU {bare_cpu:.0f} %")
        ours = await run_ours(reactor, port, redis, opts.count, "ours")
        print(f"ours : {ours['rate']:,.0f} submit_sm/s via send() -> Redis outbox -> SMPP; "
              f"submit->resp p50 {ours['p50']:.1f} ms p99 {ours['p99']:.1f} ms; "
              f"delivered (receipt correlated) {ours['dlr_ok']:.4f}; CPU {ours['cpu']:.0f} %")
        fit = int(200 * opts.tps_seconds * 1.3) + 10
        tps = await run_ours(reactor, port, redis, fit, "tps", tps=200.0,
                             seconds=opts.tps_seconds)
        achieved = tps["achieved"]
        print(f"tps  : limit 200/s -> {achieved:.1f}/s over {opts.tps_seconds:g} s")
        print(f"BENCH smpp_mt rate={ours['rate']:.0f} ratio={ours['rate'] / bare:.3f} "
              f"dlr_ok={ours['dlr_ok']:.4f} tps_err={abs(achieved - 200) / 200:.4f}")
    finally:
        await redis.disconnect()
        stop(peer)
        stop(redis_proc)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--tps-seconds", type=float, default=10.0)
    parser.add_argument("--no-durable", action="store_true",
                        help="redis without AOF (to see what fsync costs)")
    args = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, args)))
