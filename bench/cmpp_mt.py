"""MT SMS throughput of hotline's CMPP 2.0 sender, with a bare loop of the same framing measured
in the same run against the same gateway.

    .venv/bin/python bench/cmpp_mt.py [--count 20000] [--tps-seconds 10] [--window 16]

Starts its own redis-server (AOF, appendfsync always: the durable outbox as deployed) and the
ISMG simulator (tests/sms/ismg_server.py --quiet, its own process; no independent CMPP gateway
can be installed from the registries), then in this process:

1. ours: ``CmppSender`` (window 16, Registered_Delivery 1) over ``RedisOutbox``; every message
   goes through ``send()`` -> Redis -> CMPP_SUBMIT; rate = messages / (first send -> last
   SUBMIT_RESP); then waits for every status report and counts messages whose outbox state
   became ``delivered`` (report correlated to its key by Msg_Id).
2. bare: one socket, CMPP_CONNECT, 16 SUBMITs in flight, each encoded with our codec and
   written, answers counted from the header only, reports answered from the header only.
3. tps: a fresh sender with tps=200 and 1.3x as many messages as fit; rate over 10 s.

Last line: ``BENCH cmpp_mt ratio=<ours/bare> dlr_ok=<fraction> tps_err=<e>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

from twisted.internet import defer, protocol, task  # noqa: E402

from sms.api import OutgoingSms  # noqa: E402
from sms.cmpp import codec, core  # noqa: E402
from sms.cmpp.client import CmppConfig  # noqa: E402
from sms.cmpp.service import CmppSender  # noqa: E402
from sms.redis_outbox import RedisOutbox  # noqa: E402
from storage.client import connect  # noqa: E402
from storage.embedded import RedisProcess  # noqa: E402

TO = "13800138000"
TEXT = "【深圳市第一人民医院】预约成功：内科 11月27日 星期五 上午，取号码4820193756。请凭此码签到。"
SP_ID, SECRET = "901234", "fault-secret"  # tests/sms/ismg_server.py's
LIMIT_S = 120.0  # every wait has a ceiling


def start_ismg() -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/sms/ismg_server.py"), "0",
                             "--quiet"], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(json.loads(proc.stdout.readline())["listening"])


async def until(reactor: Any, predicate: Any, what: str, limit: float = LIMIT_S) -> None:
    deadline = reactor.seconds() + limit
    while not predicate():
        if reactor.seconds() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await task.deferLater(reactor, 0.01, lambda: None)


class Counted(list):  # type: ignore[type-arg]
    """Fires ``reached`` when it holds ``target`` entries."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.reached: defer.Deferred[None] = defer.Deferred()

    def append(self, value: Any) -> None:
        super().append(value)
        if len(self) == self.target:
            self.reached.callback(None)


async def run_ours(reactor: Any, port: int, redis: Any, count: int, tag: str, window: int,
                   tps: float | None = None, seconds: float | None = None) -> dict[str, Any]:
    outbox = RedisOutbox(redis, reactor, prefix=f"hl:{{bench{tag}}}:")
    receipts = Counted(count)
    sender = CmppSender("127.0.0.1", port, CmppConfig(SP_ID, SECRET, window=window, tps=tps),
                        reactor=reactor, outbox=outbox,
                        on_receipt=lambda key, r: receipts.append(key))
    sender.latencies = lat = Counted(count)
    sender.startService()
    await until(reactor, lambda: sender.bound and sender._ready, "connect")
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(count):
        sender.send(OutgoingSms(TO, TEXT, f"{tag}:{i}", "bench"))
    result: dict[str, Any] = {}
    if seconds is not None:
        await until(reactor, lambda: len(lat) > 0, "first answer")
        start = len(lat)
        await task.deferLater(reactor, seconds, lambda: None)
        result["achieved"] = (len(lat) - start) / seconds
    else:
        await lat.reached.addTimeout(LIMIT_S, reactor)
        elapsed = time.perf_counter() - t0
        lat.sort()
        result.update(rate=count / elapsed, cpu=100 * (time.process_time() - cpu0) / elapsed,
                      p50=lat[len(lat) // 2] * 1000, p99=lat[int(len(lat) * 0.99) - 1] * 1000)
        with contextlib.suppress(defer.TimeoutError):
            await receipts.reached.addTimeout(30, reactor)
        await task.deferLater(reactor, 0.05, lambda: None)  # the last receipt batch written
        states = await defer.gatherResults(
            [redis.hget(f"{outbox.prefix}m:{tag}:{i}", "state") for i in range(count)])
        result["dlr_ok"] = sum(s == "delivered" for s in states) / count
    await sender.stopService()
    return result


class Bare(protocol.Protocol):
    """The floor: encode, write, count answers by header; no outbox, no Deferreds."""

    def __init__(self, count: int, window: int, done: defer.Deferred[float]) -> None:
        self.count, self.window, self.done = count, window, done
        self.sent = self.resps = 0
        self.seq = 1
        self.buf = b""
        self.t0 = 0.0
        self.submit_frame = b""

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)
        request = core.connect_request(SP_ID, SECRET, time.time())
        self.transport.write(codec.encode(1, codec.Connect(
            SP_ID, request.authenticator, codec.VERSION_2, request.timestamp)))
        body = codec.encode(0, codec.Submit((TO,), TEXT.encode("utf-16-be"), msg_fmt=8,
                                            msg_src=SP_ID, registered_delivery=1))
        self.submit_frame = body

    def submit(self) -> None:
        self.seq += 1
        self.sent += 1
        frame = self.submit_frame
        self.transport.write(frame[:8] + struct.pack(">I", self.seq) + frame[12:])

    def dataReceived(self, data: bytes) -> None:
        buf = self.buf + data
        i = 0
        while len(buf) - i >= 12:
            length, cid, seq = struct.unpack_from(">III", buf, i)
            if len(buf) - i < length:
                break
            if cid == 0x80000004:
                self.resps += 1
                if self.sent < self.count:
                    self.submit()
                elif self.resps == self.count:
                    self.done.callback(time.perf_counter() - self.t0)
            elif cid == 0x00000005:  # a report: answer with its Msg_Id
                self.transport.write(struct.pack(">III", 21, 0x80000005, seq)
                                     + buf[i + 12:i + 20] + b"\0")
            elif cid == 0x80000001:
                self.t0 = time.perf_counter()
                for _ in range(min(self.window, self.count)):
                    self.submit()
            i += length
        self.buf = buf[i:]


async def run_bare(reactor: Any, port: int, count: int, window: int) -> tuple[float, float]:
    done: defer.Deferred[float] = defer.Deferred()
    proto = Bare(count, window, done)
    await protocol.ClientCreator(reactor, lambda: proto).connectTCP("127.0.0.1", port)
    cpu0 = time.process_time()
    elapsed = await done.addTimeout(LIMIT_S, reactor)
    proto.transport.loseConnection()
    return count / elapsed, 100 * (time.process_time() - cpu0) / elapsed


async def main(reactor: Any, opts: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cmpp_mt-"))
    redis_proc = RedisProcess(data_dir=tmp, durable=not opts.no_durable).start()
    ismg, port = start_ismg()
    redis = await connect(redis_proc.url)
    try:
        persistence = "no persistence" if opts.no_durable else "AOF appendfsync always"
        print(f"cmpp_mt: ISMG simulator (tests/sms/ismg_server.py --quiet, port {port}); redis "
              f"{persistence}; window {opts.window}; {opts.count} messages, UCS2, "
              f"1 part, Registered_Delivery 1")
        warm = max(opts.count // 10, 100)
        await run_bare(reactor, port, warm, opts.window)
        await run_ours(reactor, port, redis, warm, "warm", opts.window)
        bare, bare_cpu = await run_bare(reactor, port, opts.count, opts.window)
        print(f"bare : {bare:,.0f} SUBMIT/s (encode, write, count answers by header); "
              f"client CPU {bare_cpu:.0f} %")
        ours = await run_ours(reactor, port, redis, opts.count, "ours", opts.window)
        print(f"ours : {ours['rate']:,.0f} SUBMIT/s via send() -> Redis outbox -> CMPP; "
              f"SUBMIT->answer p50 {ours['p50']:.1f} ms p99 {ours['p99']:.1f} ms; delivered "
              f"(report correlated) {ours['dlr_ok']:.4f}; CPU {ours['cpu']:.0f} %")
        fit = int(200 * opts.tps_seconds * 1.3) + 10
        tps = await run_ours(reactor, port, redis, fit, "tps", opts.window, tps=200.0,
                             seconds=opts.tps_seconds)
        achieved = tps["achieved"]
        print(f"tps  : limit 200/s -> {achieved:.1f}/s over {opts.tps_seconds:g} s")
        print(f"BENCH cmpp_mt ratio={ours['rate'] / bare:.3f} dlr_ok={ours['dlr_ok']:.4f} "
              f"tps_err={abs(achieved - 200) / 200:.4f}")
    finally:
        await redis.disconnect()
        ismg.terminate()
        ismg.wait(10)
        redis_proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--tps-seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--no-durable", action="store_true",
                        help="redis without AOF (to see what fsync costs)")
    args = parser.parse_args()
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, args)))
