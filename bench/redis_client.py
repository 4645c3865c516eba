"""hotline's Redis client against stock txredisapi, on the same redis-server, in the same run.

    .venv/bin/python bench/redis_client.py [--rounds 5] [--commands 20000]

``hotline.redis_client`` changes txredisapi's hot path: a leaner encoder, a direct path to a
connected connection, one Deferred per command, and the first request of each reactor turn
sent at once (``ivr.sendnow``). This measures the client's CPU per command in the two shapes
the server produces: a **burst** (100 GETs issued in one reactor turn, as when many hops or
calls are handled in one turn) and **single** requests (one in flight, each waiting for its
reply, as a lone booking does), with the single requests' round-trip time. Rounds alternate
between the two clients; each figure is the median of the rounds. Last line:
``BENCH redis_client burst_us=<ours> burst_ratio=<stock/ours> single_us=<ours>
single_ratio=<stock/ours> single_rtt_us=<ours>``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from children import started  # noqa: E402

BURST = 100


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def burst(redis: Any, commands: int) -> float:
    """Client CPU µs per GET, issued ``BURST`` at a time in one reactor turn."""
    from twisted.internet import defer

    started = cpu_s()
    for _ in range(commands // BURST):
        await defer.gatherResults([redis.get("k") for _ in range(BURST)])
    return (cpu_s() - started) / commands * 1e6


async def single(redis: Any, commands: int) -> tuple[float, float]:
    """Client CPU µs per GET and median round trip µs, one GET in flight at a time."""
    rtts = []
    started = cpu_s()
    for _ in range(commands):
        sent = time.perf_counter()
        await redis.get("k")
        rtts.append(time.perf_counter() - sent)
    return (cpu_s() - started) / commands * 1e6, statistics.median(rtts) * 1e6


async def run(url: str, rounds: int, commands: int) -> None:
    import txredisapi

    from hotline.redis_client import connect

    ours = await connect(url, reconnect=False)
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    stock = await txredisapi.Connection(host, int(port), reconnect=False)
    await ours.set("k", "v" * 32)
    results: dict[str, dict[str, list[float]]] = {"ours": {}, "stock": {}}
    for n in range(rounds):
        order = [("ours", ours), ("stock", stock)] if n % 2 == 0 else [("stock", stock),
                                                                       ("ours", ours)]
        for name, client in order:
            got = results[name]
            got.setdefault("burst", []).append(await burst(client, commands))
            cpu, rtt = await single(client, commands // 4)
            got.setdefault("single", []).append(cpu)
            got.setdefault("rtt", []).append(rtt)
        print(f"round {n + 1}: " + "; ".join(
            f"{name} burst {results[name]['burst'][-1]:.1f} µs, single "
            f"{results[name]['single'][-1]:.1f} µs (round trip {results[name]['rtt'][-1]:.0f} µs)"
            for name in ("stock", "ours")), flush=True)
    med = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in results.items()}
    print(f"median of {rounds}: stock (baseline) burst {med['stock']['burst']:.1f} µs, single "
          f"{med['stock']['single']:.1f} µs, round trip {med['stock']['rtt']:.0f} µs; ours burst "
          f"{med['ours']['burst']:.1f} µs, single {med['ours']['single']:.1f} µs, round trip "
          f"{med['ours']['rtt']:.0f} µs (client CPU per GET)")
    print(f"BENCH redis_client burst_us={med['ours']['burst']:.1f} "
          f"burst_ratio={med['stock']['burst'] / med['ours']['burst']:.2f} "
          f"single_us={med['ours']['single']:.1f} "
          f"single_ratio={med['stock']['single'] / med['ours']['single']:.2f} "
          f"single_rtt_us={med['ours']['rtt']:.0f}")
    await ours.disconnect()
    await stock.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=20000, help="GETs per burst phase")
    args = parser.parse_args()

    from twisted.internet import defer, reactor

    from hotline.redis_server import RedisProcess

    with tempfile.TemporaryDirectory() as tmp, RedisProcess(data_dir=Path(tmp),
                                                            durable=False) as server:
        started(server)
        print(f"redis {server.url}; {args.rounds} alternating rounds, {args.commands} GETs in "
              f"bursts of {BURST}, {args.commands // 4} single", flush=True)
        d = defer.ensureDeferred(run(server.url, args.rounds, args.commands))
        d.addErrback(lambda f: (f.printTraceback(), None)).addBoth(lambda _: reactor.stop())
        reactor.run()


if __name__ == "__main__":
    main()
