"""The hot paths' tallies (hops, hop times, Redis round trips, HTTP requests by route) reach
the families as prometheus_client's own calls would have counted them, by the time anything
collects."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

import metrics
from ussd.gateway import HopEvent


def _samples(registry: CollectorRegistry, name: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples if s.name.startswith(name)}


def test_hop_times_land_in_the_buckets_observe_would_have_chosen() -> None:
    times_ms = [0.2, 1.0, 1.0001, 2.5, 7.0, 30.0, 900.0, 60_000.0]
    before = _samples(metrics.REGISTRY, "hotline_ussd_hop_seconds")
    for ms in times_ms:
        metrics.hop(HopEvent("tally", "****0001", "menu", "digits", "step", ms))
    after = _samples(metrics.REGISTRY, "hotline_ussd_hop_seconds")  # a collection flushes
    reference = CollectorRegistry()
    expected = Histogram("hotline_ussd_hop_seconds", "x", ["gateway"],
                         buckets=metrics._FAST, registry=reference)
    for ms in times_ms:
        expected.labels("tally").observe(ms / 1000.0)
    want = _samples(reference, "hotline_ussd_hop_seconds")
    moved = {k: v - before.get(k, 0.0) for k, v in after.items() if ("gateway", "tally") in k[1]}
    assert moved.keys() == want.keys()
    for key, value in want.items():
        assert abs(moved[key] - value) < 1e-9, key


def test_counts_wait_in_the_tally_until_a_collection_or_a_scrape() -> None:
    metrics.hop(HopEvent("tally2", "****0001", "menu", "digits", "new", 1.0))
    child = metrics.F.ussd_hops.labels("tally2", "new")
    metrics.flush()
    base = child._value.get()
    for _ in range(3):
        metrics.hop(HopEvent("tally2", "****0001", "menu", "digits", "new", 1.0))
    assert child._value.get() == base  # no lock taken per hop
    text = generate_latest(metrics.REGISTRY).decode()
    assert f'hotline_ussd_hops_total{{gateway="tally2",outcome="new"}} {base + 3}' in text


def test_redis_round_trips_and_routes_are_counted_by_a_collection() -> None:
    routes = metrics.Routes({"/ussd/at"})
    before = _samples(metrics.REGISTRY, "hotline_")
    for _ in range(4):
        metrics.redis_roundtrip(0.0003)
        routes.count(b"/ussd/at", 200)
    routes.count(b"/ussd/at/nowhere", 404)  # not an exact route: counted at once, as other
    after = _samples(metrics.REGISTRY, "hotline_")

    def moved(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("hotline_redis_roundtrip_seconds_count") == 4
    assert moved("hotline_redis_roundtrip_seconds_bucket", le="0.0005") == 4
    assert moved("hotline_redis_roundtrip_seconds_bucket", le="0.00025") == 0
    assert abs(moved("hotline_redis_roundtrip_seconds_sum") - 0.0012) < 1e-12
    assert moved("hotline_http_requests_total", route="/ussd/at", code="200") == 4
    assert moved("hotline_http_requests_total", route="/ussd/at", code="404") == 1
