"""Flash crowd on one hot session: the booking core against raw EVALSHA of the same hold script.

    .venv/bin/python bench/booking_flash.py [--attempts 50000] [--clients 200] [--places 1000]

Starts its own redis-server (``RedisProcess``, durable=True: AOF with appendfsync always, like
production). Phase 1 (core): ``clients`` coroutines share ``attempts`` calls of
``RedisBookingService.book`` on one session with ``places`` remote places; half the attempts are
a second try by an ID that already tried, so duplicates are exercised. Phase 2 (raw): the same
script, with arguments precomputed by the same code, sent as EVALSHA through txredisapi with the
same number in flight (the cost of Redis alone). Then it counts oversell (live bookings beyond the
quota, or a counter that disagrees) and double bookings (an ID with two live bookings in the
department-day). Phase 3: the core rate with 10 and with 10,000 departments in the catalog (and
that many sessions' worth of bookings already in Redis), to show the cost stays flat. Phase 4
(platform): 100 hospitals of 40 departments each on the same Redis, the same number of attempts
spread over every hospital releasing at the same minute, on as many of each hospital's
departments as it takes to offer the same ``places`` in all (so the mix of booked, duplicate and
full attempts is the one-hospital phase's); its hold rate, client CPU and Redis CPU per hold
are set against the one-hospital core's of the same run.
Last line: ``BENCH booking_flash ratio=… holds_per_s=… p99_ms=… oversell=… double=…
platform_hold_ratio=… platform_holds_per_s=… platform_redis_us=…``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from children import started
from twisted.internet import defer, task

from booking import keys
from booking.api import BookingError, BookingRequest
from booking.catalog import Platform, parse_catalog
from booking.idcard import check_char
from booking.store import RedisBookingService
from booking.tcode import new_tcode
from storage.client import connect
from storage.embedded import RedisProcess


class FixedClock:
    """10:00 hospital time today: tomorrow is bookable whatever the real hour is."""

    def __init__(self) -> None:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo("Asia/Shanghai")
        today = dt.datetime.now(tz).date()
        self.now = dt.datetime.combine(today, dt.time(10), tzinfo=tz).timestamp()
        self.tomorrow = today + dt.timedelta(days=1)

    def seconds(self) -> float:
        return self.now


def catalog_text(departments: int, places: int) -> str:
    depts = "\n".join(
        f"  - {{id: d{n}, name: {{zh: 科{n}, en: Dept {n}}}}}" for n in range(departments)
    )
    return (
        "hospital:\n  name: {zh: 压测医院, en: Bench hospital}\n  remote_share: 1.0\n"
        f"sessions:\n  am: {{label: {{zh: 上午, en: morning}}, places: {places}}}\n"
        f"  pm: {{label: {{zh: 下午, en: afternoon}}, places: {places}}}\n"
        f"departments:\n{depts}\n"
    )


def platform_of(hospitals: int, departments: int, places: int) -> Platform:
    """``hospitals`` hospitals with ids h0.., codes 1.., ``departments`` departments each."""
    text = catalog_text(departments, places)
    out = []
    for n in range(hospitals):
        head = f"hospital:\n  id: h{n}\n  code: '{n + 1}'\n"
        out.append(parse_catalog(text.replace("hospital:\n", head, 1), f"h{n}.yaml"))
    return Platform(tuple(out))


def person(n: int) -> tuple[str, str]:
    """The n-th distinct valid ID and its own phone number."""
    first = f"11010{n // 100000 % 10}{1950 + n // 1000 % 50:04d}0101{n % 1000:03d}"
    return first + check_char(first), f"86137{n:08d}"


def requests(attempts: int, day: dt.date, dept: str = "d0") -> list[BookingRequest]:
    """Each person tries twice (the second try must come back 'duplicate' or 'full')."""
    out = []
    for i in range(attempts):
        id_number, msisdn = person(i // 2)
        out.append(BookingRequest(dept, day, "am", id_number, msisdn, "ussd"))
    return out


async def run_clients(
    clients: int, jobs: list[Any], call: Any
) -> tuple[float, list[float], Counter]:
    """``clients`` closed-loop workers share ``jobs``; returns (seconds, latencies, outcomes)."""
    it = iter(jobs)
    lat: list[float] = []
    outcomes: Counter[str] = Counter()

    async def worker() -> None:
        for job in it:
            t0 = time.perf_counter()
            outcomes[await call(job)] += 1
            lat.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await defer.gatherResults([defer.Deferred.fromCoroutine(worker()) for _ in range(clients)])
    return time.perf_counter() - start, lat, outcomes


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] * 1000 if s else 0.0


async def core_phase(redis: Any, service: RedisBookingService, reqs: list, clients: int):
    async def book(request: BookingRequest) -> str:
        try:
            return (await service.book(request)).status.value
        except BookingError as exc:
            return exc.code

    return await run_clients(clients, reqs, book)


async def check(
    redis: Any, day: dt.date, quota: int, hospital: str = "main", dept: str = "d0"
) -> tuple[int, int, int]:
    """(live bookings, oversell, double bookings) of one hot session, read back from Redis."""
    k = keys.HospitalKeys.of(hospital)
    codes = await redis.smembers(k.session_codes(dept, day, "am"))
    live_ids: Counter[str] = Counter()
    for code in codes:
        h = await redis.hgetall(keys.PLATFORM.booking(code))
        if h["status"] in ("held", "confirmed", "checked_in"):
            live_ids[h["id"]] += 1
    live = sum(live_ids.values())
    counter = int(await redis.hget(k.counts(dept, day, "am"), "r") or 0)
    oversell = max(live - quota, 0) + abs(counter - live)
    return live, oversell, sum(n - 1 for n in live_ids.values() if n > 1)


async def redis_us_per_hold(redis: Any) -> float:
    """Redis CPU per hold.lua call since the last CONFIG RESETSTAT (INFO commandstats)."""
    stats = await redis.execute_command("INFO", "commandstats")
    line = next((x for x in stats.splitlines() if x.startswith("cmdstat_evalsha:")), "")
    return float(line.partition("usec_per_call=")[2].split(",")[0] or "nan")


def platform_requests(attempts: int, day: dt.date, hospitals: int, departments: int) -> list:
    """The crowd spread over every hospital and department; each person tries twice."""
    out = []
    for i in range(attempts):
        p = i // 2
        id_number, msisdn = person(p)
        out.append(BookingRequest(f"d{p // hospitals % departments}", day, "am", id_number,
                                  msisdn, "ussd", hospital_id=f"h{p % hospitals}"))  # fmt: skip
    return out


async def platform_setup(redis: Any, clock: FixedClock, args: argparse.Namespace) -> dict:
    """The platform's service: ``platform_hospitals`` x ``platform_departments``."""
    n_h, n_d = args.platform_hospitals, args.platform_departments
    hot = min(n_d, max(1, args.places // n_h))  # departments the crowd books at each hospital
    places = max(1, args.places // (n_h * hot))
    t0 = time.perf_counter()
    service = RedisBookingService(redis, platform_of(n_h, n_d, places), clock)
    built = time.perf_counter() - t0
    await service.load_scripts()
    print(f"platform: {n_h} hospitals x {n_d} departments, the crowd on {hot} of each "
          f"({places} places a session), service built in {built:.1f} s")
    return {"service": service, "hot": hot, "places": places}


async def platform_round(redis: Any, clock: FixedClock, setup: dict, args: argparse.Namespace):
    """One flash crowd spread over every hospital; measured and checked like the core's."""
    n_h, hot, places = args.platform_hospitals, setup["hot"], setup["places"]
    await redis.flushdb()
    await redis.execute_command("CONFIG", "RESETSTAT")
    reqs = platform_requests(args.attempts, clock.tomorrow, n_h, hot)
    cpu = time.process_time()
    secs, lat, got = await core_phase(redis, setup["service"], reqs, args.clients)
    m = {"rate": args.attempts / secs, "p99": pct(lat, 0.99),
         "cpu_us": (time.process_time() - cpu) / args.attempts * 1e6,
         "redis_us": await redis_us_per_hold(redis), "live": 0, "oversell": 0, "double": 0}
    for h in range(n_h):
        for d in range(hot):
            live, over, dbl = await check(redis, clock.tomorrow, places, f"h{h}", f"d{d}")
            m["live"], m["oversell"], m["double"] = (m["live"] + live, m["oversell"] + over,
                                                     m["double"] + dbl)  # fmt: skip
    print(f"  plat: {m['rate']:>8,.0f}/s  p99 {m['p99']:6.2f} ms  client CPU {m['cpu_us']:5.0f}"
          f" us/attempt  Redis {m['redis_us']:.1f} us/hold  live {m['live']} oversell "
          f"{m['oversell']} double {m['double']}  {dict(got)}")
    return m


async def raw_phase(redis: Any, service: RedisBookingService, reqs: list, clients: int):
    """The same hold script with precomputed arguments: EVALSHA straight through txredisapi."""
    sha = service.holds.script.sha
    now = service.clock.seconds()
    jobs = []
    for request in reqs:
        keys_, arg, _ = service.holds.args(request, now)
        code = new_tcode()
        jobs.append(([*keys_, keys.PLATFORM.booking(code)], [arg, code]))

    async def evalsha(job: tuple[list[str], list[str]]) -> str:
        reply = await redis.evalsha(sha, job[0], job[1])
        return str(reply[0])

    return await run_clients(clients, jobs, evalsha)


async def paced_phase(
    reactor: Any, service: RedisBookingService, reqs: list, rate: float
) -> tuple[float, list[float], Counter]:
    """Open loop: attempt i is due at start + i/rate whatever the replies do; latency counts from
    the due time (no coordinated omission). Returns (achieved rate, latencies, outcomes)."""
    lat: list[float] = []
    outcomes: Counter[str] = Counter()
    pending: list[defer.Deferred[None]] = []
    start = time.perf_counter()
    sent = 0

    async def one(request: BookingRequest, due: float) -> None:
        try:
            outcomes[(await service.book(request)).status.value] += 1
        except BookingError as exc:
            outcomes[exc.code] += 1
        lat.append(time.perf_counter() - due)

    def tick() -> None:
        nonlocal sent
        target = min(len(reqs), int((time.perf_counter() - start) * rate) + 1)
        while sent < target:
            pending.append(defer.Deferred.fromCoroutine(one(reqs[sent], start + sent / rate)))
            sent += 1
        if sent >= len(reqs):
            loop.stop()

    loop = task.LoopingCall(tick)
    loop.clock = reactor
    await loop.start(0.002)
    await defer.gatherResults(pending)
    return len(reqs) / (time.perf_counter() - start), lat, outcomes


async def scale_service(url: str, db: int, clock: FixedClock, departments: int, clients: int):
    """A service on Redis database ``db`` with ``departments`` and 2 bookings in each."""
    redis = await connect(url.rsplit("/", 1)[0] + f"/{db}")
    await redis.flushdb()
    catalog = parse_catalog(catalog_text(departments, 1000), "bench.yaml")
    service = RedisBookingService(redis, catalog, clock)
    await service.load_scripts()
    seed = [
        BookingRequest(f"d{n % departments}", clock.tomorrow, "pm", *person(900000 + n), "ivr")
        for n in range(2 * departments)
    ]
    await core_phase(redis, service, seed, clients)
    return redis, service


async def scale_phase(url: str, clock: FixedClock, sizes: list[int], args: argparse.Namespace):
    """Core rate on a fresh hot session (a new day each round), sizes alternating, 3 rounds."""
    setups = [await scale_service(url, 1 + i, clock, n, args.clients) for i, n in enumerate(sizes)]
    rates: dict[int, list[float]] = {n: [] for n in sizes}
    for rnd in range(3):
        day = clock.tomorrow + dt.timedelta(days=1 + rnd)
        for n, (_, service) in zip(sizes, setups, strict=True):
            reqs = requests(args.scale_attempts, day)
            secs, _, _ = await core_phase(service.redis, service, reqs, args.clients)
            rates[n].append(args.scale_attempts / secs)
    for redis, _ in setups:
        await redis.disconnect()
    return {n: statistics.median(r) for n, r in rates.items()}


async def one_round(redis: Any, service: RedisBookingService, args: argparse.Namespace):
    """Core then raw on a flushed Redis; returns the measurements of both."""
    day = service.clock.tomorrow  # type: ignore[attr-defined]
    reqs = requests(args.attempts, day)
    out: dict[str, Any] = {}
    for name, phase in (("core", core_phase), ("raw", raw_phase)):
        await redis.flushdb()
        await redis.execute_command("CONFIG", "RESETSTAT")
        cpu = time.process_time()
        secs, lat, outcomes = await phase(redis, service, reqs, args.clients)
        cpu_us = (time.process_time() - cpu) / args.attempts * 1e6
        live, oversell, double = await check(redis, day, args.places)
        out[name] = {"rate": args.attempts / secs, "p50": pct(lat, 0.5), "p99": pct(lat, 0.99),
                     "cpu_us": cpu_us, "outcomes": dict(outcomes), "live": live,
                     "oversell": oversell, "double": double,
                     "redis_us": await redis_us_per_hold(redis)}  # fmt: skip
        m = out[name]
        print(f"  {name:>4}: {m['rate']:>8,.0f}/s  p50 {m['p50']:6.2f} ms  p99 {m['p99']:6.2f} ms"
              f"  client CPU {cpu_us:5.0f} us/attempt  live {live} oversell {oversell}"
              f" double {double}  {m['outcomes']}")
    return out


async def main(reactor: Any, args: argparse.Namespace) -> None:
    clock = FixedClock()
    print(f"booking_flash: {args.attempts} hold attempts, {args.clients} concurrent clients, one "
          f"session of {args.places} places, Redis durable={args.durable}, {args.rounds} rounds")
    tmp = tempfile.TemporaryDirectory()
    with tmp, RedisProcess(Path(tmp.name), durable=args.durable) as server:
        started(server)  # also stopped if the reactor is stopped (SIGTERM) before the end
        redis = await connect(server.url)
        catalog = parse_catalog(catalog_text(10, args.places), "bench.yaml")
        service = RedisBookingService(redis, catalog, clock)
        await service.load_scripts()
        setup = await platform_setup(redis, clock, args) if args.platform_hospitals else None
        rounds, plats = [], []
        for n in range(args.rounds):  # one hospital and the platform in turn: the same load
            print(f"round {n + 1}:")
            rounds.append(await one_round(redis, service, args))
            if setup is not None:
                plats.append(await platform_round(redis, clock, setup, args))
        per_call = statistics.median(r["core"]["redis_us"] for r in rounds)
        print(f"redis: hold.lua costs {per_call:.1f} us of Redis CPU per call (INFO "
              f"commandstats, one hospital)")
        if args.paced_rate:
            await redis.flushdb()
            reqs = requests(args.paced_attempts, clock.tomorrow)
            achieved, lat, outcomes = await paced_phase(reactor, service, reqs, args.paced_rate)
            print(f"paced (open loop) at {args.paced_rate:,.0f} attempts/s offered: achieved "
                  f"{achieved:,.0f}/s, p50 {pct(lat, 0.5):.2f} ms, p99 {pct(lat, 0.99):.2f} ms, "
                  f"{dict(outcomes)}")
        rates = await scale_phase(server.url, clock, args.scale, args) if args.scale else {}
        for n, rate in rates.items():
            print(f"scale: {n:>6} departments: {rate:,.0f} holds/s (median of 3, alternating)")
        if rates:
            lo, hi = min(rates.values()), max(rates.values())
            print(f"scale: spread {100 * (hi - lo) / hi:.1f} % (flat if <= 20 %)")
        await redis.disconnect()

    def median(name: str, key: str) -> float:
        return statistics.median(r[name][key] for r in rounds)

    core_rate, raw_rate, p99 = median("core", "rate"), median("raw", "rate"), median("core", "p99")
    cpu_ratio = median("raw", "cpu_us") / median("core", "cpu_us")
    oversell = sum(r[k]["oversell"] for r in rounds for k in ("core", "raw"))
    double = sum(r[k]["double"] for r in rounds for k in ("core", "raw"))
    print(f"median of {len(rounds)}: core {core_rate:,.0f}/s, raw EVALSHA {raw_rate:,.0f}/s, "
          f"core p99 {p99:.2f} ms; client CPU per attempt raw/core = {cpu_ratio:.2f}")
    tail = ""
    if plats:
        plat = {k: statistics.median(p[k] for p in plats) for k in ("rate", "cpu_us", "redis_us")}
        oversell += sum(p["oversell"] for p in plats)
        double += sum(p["double"] for p in plats)
        ratio = plat["rate"] / core_rate
        one_us = median("core", "redis_us")
        print(f"platform vs one hospital (same run): holds/s {plat['rate']:,.0f} vs "
              f"{core_rate:,.0f} ({ratio:.2f}); client CPU {plat['cpu_us']:.0f} vs "
              f"{median('core', 'cpu_us'):.0f} us/attempt; Redis {plat['redis_us']:.1f} vs "
              f"{one_us:.1f} us/hold (within +-20 %: {abs(ratio - 1) <= 0.2})")
        tail = (f" platform_hold_ratio={ratio:.2f} platform_holds_per_s={plat['rate']:.0f}"
                f" platform_redis_us={plat['redis_us']:.1f} redis_us={one_us:.1f}")
    print(f"BENCH booking_flash ratio={core_rate / raw_rate:.2f} holds_per_s={core_rate:.0f} "
          f"p99_ms={p99:.2f} oversell={oversell} double={double}{tail}")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--attempts", type=int, default=50000)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--places", type=int, default=1000)
    p.add_argument("--scale", type=int, nargs="*", default=[10, 10000])
    p.add_argument("--scale-attempts", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3, help="core+raw pairs; medians are reported")
    p.add_argument("--paced-rate", type=float, default=2000, help="open-loop rate (0 = skip)")
    p.add_argument("--paced-attempts", type=int, default=10000)
    p.add_argument("--platform-hospitals", type=int, default=100, help="0 = skip the phase")
    p.add_argument("--platform-departments", type=int, default=40)
    p.add_argument("--no-durable", dest="durable", action="store_false",
                   help="Redis without AOF (diagnosis only: production runs appendfsync always)")
    return p.parse_args(argv)


if __name__ == "__main__":
    task.react(lambda reactor: defer.ensureDeferred(main(reactor, parse())))
