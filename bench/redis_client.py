"""hotline's Redis client with the fast path on and off, on the same redis-server, in the same run.

    .venv/bin/python bench/redis_client.py [--rounds 5] [--commands 20000]

The fast path changes txredisapi's hot path (``fastpath.redis``: a leaner encoder, a direct
path to a connected connection, one Deferred per command) and sends the first request of each
reactor turn at once (``fastpath.send``). This measures the client's CPU per command of three
clients made by ``storage.client.connect``: the fast path off (stock txredisapi, the
baseline), the ``redis`` piece alone, and the whole fast path, in the two shapes the server
produces: a **burst** (100 GETs issued in one reactor turn, as when many hops or calls are
handled in one turn) and **single** requests (one in flight, each waiting for its reply, as a
lone booking does), with the single requests' round-trip time. Rounds alternate the order of
the clients; each figure is the median of the rounds. Last line:
``BENCH redis_client burst_us=<ours> burst_ratio=<stock/ours> single_us=<ours>
single_ratio=<stock/ours> single_rtt_us=<ours> send_burst_ratio=<redis piece alone/ours>
send_single_ratio=<redis piece alone/ours>`` (ours: the whole fast path; stock: off).
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


CLIENTS = {  # name: the fast path's pieces on while it connects and runs
    "stock": frozenset(),
    "redis": frozenset({"redis"}),
    "ours": frozenset({"redis", "send"}),
}
LABELS = {"stock": "stock (baseline), fast path off", "redis": "redis piece alone",
          "ours": "ours (fast path on)"}


async def run(url: str, rounds: int, commands: int) -> None:
    import fastpath
    from storage.client import connect

    clients = {}
    for name, pieces in CLIENTS.items():
        fastpath.force(pieces)
        clients[name] = await connect(url, reconnect=False)
    await clients["ours"].set("k", "v" * 32)
    results: dict[str, dict[str, list[float]]] = {name: {} for name in CLIENTS}
    names = list(CLIENTS)
    for n in range(rounds):
        order = names if n % 2 == 0 else names[::-1]
        for name in order:
            fastpath.force(CLIENTS[name])  # fastpath.send checks at each write
            client, got = clients[name], results[name]
            got.setdefault("burst", []).append(await burst(client, commands))
            cpu, rtt = await single(client, commands // 4)
            got.setdefault("single", []).append(cpu)
            got.setdefault("rtt", []).append(rtt)
        print(f"round {n + 1}: " + "; ".join(
            f"{name} burst {results[name]['burst'][-1]:.1f} µs, single "
            f"{results[name]['single'][-1]:.1f} µs (round trip {results[name]['rtt'][-1]:.0f} µs)"
            for name in names), flush=True)
    med = {name: {k: statistics.median(v) for k, v in got.items()} for name, got in results.items()}
    print(f"median of {rounds} (client CPU per GET): " + "; ".join(
        f"{LABELS[name]} burst {med[name]['burst']:.1f} µs, single {med[name]['single']:.1f} µs, "
        f"round trip {med[name]['rtt']:.0f} µs" for name in names))
    ours, stock, alone = med["ours"], med["stock"], med["redis"]
    print(f"BENCH redis_client burst_us={ours['burst']:.1f} "
          f"burst_ratio={stock['burst'] / ours['burst']:.2f} "
          f"single_us={ours['single']:.1f} "
          f"single_ratio={stock['single'] / ours['single']:.2f} "
          f"single_rtt_us={ours['rtt']:.0f} "
          f"send_burst_ratio={alone['burst'] / ours['burst']:.2f} "
          f"send_single_ratio={alone['single'] / ours['single']:.2f}")
    for client in clients.values():
        await client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=20000, help="GETs per burst phase")
    args = parser.parse_args()

    from twisted.internet import defer, reactor

    from storage.embedded import RedisProcess

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
