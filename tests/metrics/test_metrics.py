"""``/metrics`` over real HTTP on a whole server (hotline.app): the families move with a real
USSD booking, a call, a check-in and the SMS it sends; request paths never become labels; the
exposition parses; and the Grafana dashboard only asks for names a real scrape has."""

from __future__ import annotations

import datetime as dt
import json
import re
import timeit
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import task

import metrics
from booking.idcard import check_char
from hotline.app import Running, start
from ivr.simulator import place_call
from settings.schema import load_settings

ROOT = Path(__file__).resolve().parents[2]
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def reactor() -> Any:
    from twisted.internet import reactor as r

    return r


class ShiftedClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def seconds(self) -> float:
        return reactor().seconds() + self.offset


@pytest_twisted.async_yield_fixture
async def server(redis, redis_url, tmp_path):
    overrides = {"redis": {"url": redis_url}, "http": {"port": 0},
                 "ivr": {"fastagi": {"port": 0}}, "data_dir": str(tmp_path)}
    clock = ShiftedClock()
    running = await start(load_settings(ROOT / "config/hotline.yaml", overrides), reactor(),
                          clock=clock)
    yield running, clock
    await running.stop()


async def scrape_text(running: Running) -> str:
    response = await treq.get(f"http://127.0.0.1:{running.http_port}/metrics")
    assert response.code == 200
    assert response.headers.getRawHeaders(b"content-type")[0].startswith(b"text/plain")
    return str(await response.text("utf-8"))


async def scrape(running: Running) -> tuple[set[str], Samples]:
    """(family names, {(sample name, labels): value}) as Prometheus would parse them."""
    families, samples = set(), {}
    for family in text_string_to_metric_families(await scrape_text(running)):
        families.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return families, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over the series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def valid_id(seq: int) -> str:
    first17 = f"44030519900101{seq:03d}"
    return first17 + check_char(first17)


async def book_by_ussd(running: Running, session: str, phone: str, id_number: str) -> tuple[
        str, int]:
    """The final screen and the number of hops it took."""
    url = f"http://127.0.0.1:{running.http_port}/ussd/at"
    inputs: list[str] = []
    for hop in range(1, 13):
        form = {"sessionId": session, "serviceCode": "*12580#", "phoneNumber": phone,
                "networkCode": "46000", "text": "*".join(inputs)}
        response = await treq.post(url, data=form)
        reply = await response.text("utf-8")
        assert response.code == 200, reply
        if reply.startswith("END "):
            return reply, hop
        inputs.append(id_number.replace("X", "*") if "身份证号码" in reply else "1")
    raise AssertionError(f"no END after {inputs}")


REQUIRED = {
    "hotline_ussd_hops", "hotline_ussd_hop_seconds", "hotline_ivr_commands",
    "hotline_ivr_command_seconds", "hotline_ussd_dialogues_active", "hotline_ivr_calls_active",
    "hotline_bookings", "hotline_booking_holds", "hotline_sms_outbox_queued",
    "hotline_sms_outbox_sending", "hotline_sms_outbox_oldest_age_seconds", "hotline_sms_submits",
    "hotline_sms_receipts", "hotline_smpp_bound", "hotline_redis_roundtrip_seconds",
    "hotline_redis_up", "hotline_http_requests", "hotline_processes",
}


@pytest_twisted.ensureDeferred
async def test_a_real_booking_moves_the_families(server) -> None:
    running, clock = server
    _, before = await scrape(running)
    end, hops = await book_by_ussd(running, "m-1", "13800138000", valid_id(21))
    tcode = TCODE.search(end)
    assert tcode, end
    # the loopback SMSC receipts every message: wait for the booking's SMS to be delivered
    for _ in range(100):
        families, after = await scrape(running)
        if total(after, "hotline_sms_receipts_total", stat="DELIVRD") > total(
                before, "hotline_sms_receipts_total", stat="DELIVRD"):
            break
        await task.deferLater(reactor(), 0.05, lambda: None)
    assert families >= REQUIRED, REQUIRED - families

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("hotline_ussd_hops_total", gateway="at") == hops
    assert moved("hotline_ussd_hop_seconds_count", gateway="at") == hops
    assert moved("hotline_ussd_hops_total", gateway="at", outcome="new") == 1
    assert moved("hotline_bookings_total", outcome="taken", channel="ussd") == 1
    assert moved("hotline_http_requests_total", route="/ussd/at", code="200") == hops
    assert moved("hotline_redis_roundtrip_seconds_count") >= hops  # at least one per hop
    assert moved("hotline_sms_submits_total", status="submitted") == 1
    assert moved("hotline_sms_receipts_total", stat="DELIVRD") == 1
    assert value(after, "hotline_smpp_bound", bind="sms") == 1.0
    assert value(after, "hotline_redis_up") == 1.0
    assert value(after, "hotline_processes") == 1.0
    assert value(after, "hotline_sms_outbox_queued") == 0.0
    assert value(after, "hotline_booking_holds") == 0.0
    assert value(after, "hotline_ussd_dialogues_active") == 0.0  # it ended

    # a dialogue left half-way is active until its timeout; a check-in and a refusal count
    url = f"http://127.0.0.1:{running.http_port}/ussd/at"
    await treq.post(url, data={"sessionId": "m-2", "serviceCode": "*12580#",
                               "phoneNumber": "13700137001", "networkCode": "46000", "text": ""})
    again, _ = await book_by_ussd(running, "m-3", "13800138000", valid_id(21))  # same ID
    assert "END" in again
    booked = await running.booking.bookings_for("8613800138000")
    visit = dt.datetime.combine(booked[0].day, dt.time(9, 0), ZoneInfo("Asia/Shanghai"))
    clock.offset = visit.timestamp() - reactor().seconds()
    body = json.dumps({"tcode": tcode.group(0), "kiosk_id": "k1"}).encode()
    response = await treq.post(f"http://127.0.0.1:{running.http_port}/api/kiosk/check-in",
                               data=body,
                               headers={"content-type": "application/json"})
    assert response.code == 200, await response.text()
    clock.offset = 0.0
    _, last = await scrape(running)
    assert value(last, "hotline_ussd_dialogues_active") == 1.0
    assert total(last, "hotline_bookings_total", outcome="duplicate", channel="ussd") - total(
        after, "hotline_bookings_total", outcome="duplicate", channel="ussd") == 1
    assert total(last, "hotline_bookings_total", outcome="checked_in", channel="kiosk") - total(
        after, "hotline_bookings_total", outcome="checked_in", channel="kiosk") == 1


@pytest_twisted.ensureDeferred
async def test_a_call_counts_agi_commands_by_outcome(server) -> None:
    running, _ = server
    _, before = await scrape(running)
    sim = await place_call(reactor(), running.fastagi_port,
                           ["1", "1", "1", "1", "1", valid_id(22).replace("X", "*"), "1"],
                           callerid="13912345678")
    assert len([d for d in sim.said_digits if len(d) == 10]) == 1, sim.format_transcript()
    _, after = await scrape(running)
    ok = total(after, "hotline_ivr_commands_total", outcome="ok") - total(
        before, "hotline_ivr_commands_total", outcome="ok")
    assert ok >= 7  # a prompt or an input for each of the seven keys, at least
    assert total(after, "hotline_ivr_command_seconds_count", command="GET") > total(
        before, "hotline_ivr_command_seconds_count", command="GET")
    assert total(after, "hotline_bookings_total", outcome="taken", channel="ivr") - total(
        before, "hotline_bookings_total", outcome="taken", channel="ivr") == 1
    assert value(after, "hotline_ivr_calls_active") == 0.0


@pytest_twisted.ensureDeferred
async def test_random_paths_make_no_new_series_and_the_scrape_still_parses(server) -> None:
    running, _ = server
    base = f"http://127.0.0.1:{running.http_port}"
    await treq.get(f"{base}/healthz")
    await treq.get(f"{base}/nope-0")
    _, first = await scrape(running)
    series = {k for k in first if k[0] == "hotline_http_requests_total"}
    for n in range(40):
        await treq.get(f"{base}/nope-{n}/x%22y%0A?q={n}")
        await treq.get(f"{base}/ussd/at/extra-{n}")
        await treq.get(f"{base}/healthz/{n}")
    text = await scrape_text(running)
    assert "nope" not in text and "extra-" not in text
    _, second = await scrape(running)  # parses, whatever the paths were
    assert {k for k in second if k[0] == "hotline_http_requests_total"} - series <= {
        ("hotline_http_requests_total", frozenset({("route", "/ussd/at"), ("code", "405")})),
        ("hotline_http_requests_total", frozenset({("route", "/healthz"), ("code", "200")})),
        ("hotline_http_requests_total", frozenset({("route", "/ussd/at"), ("code", "404")})),
        ("hotline_http_requests_total", frozenset({("route", "/healthz"), ("code", "404")})),
        ("hotline_http_requests_total", frozenset({("route", "/ussd/at"), ("code", "400")})),
    }
    assert total(second, "hotline_http_requests_total", route="other") - total(
        first, "hotline_http_requests_total", route="other") == 40


def test_routes_are_templates_of_the_tree() -> None:
    routes = metrics.Routes({"/", "/ussd", "/ussd/at", "/api/kiosk/verify", "/healthz"})
    assert routes.route_of(b"/ussd/at?x=1") == "/ussd/at"
    assert routes.route_of(b"/ussd/at/") == "/ussd/at"
    assert routes.route_of(b"/api/kiosk/verify/more") == "/api/kiosk/verify"
    assert routes.route_of(b"/api/kiosk/x") == "other"
    assert routes.route_of(b'/a"b') == "other"
    assert routes.route_of(b"/") == "/"


@pytest_twisted.ensureDeferred
async def test_every_metric_of_the_dashboard_is_in_a_real_scrape(server) -> None:
    """On its own too: a USSD booking whose SMS is delivered and a call make every series."""
    running, _ = server
    await book_by_ussd(running, "m-dash", "13600136001", valid_id(23))
    await place_call(reactor(), running.fastagi_port, ["1", "1", "1", "1", "1",
                     valid_id(24).replace("X", "*"), "1"], callerid="13912345679")
    for _ in range(100):  # the loopback SMSC receipts every message
        families, samples = await scrape(running)
        if total(samples, "hotline_sms_receipts_total", stat="DELIVRD") >= 2:
            break
        await task.deferLater(reactor(), 0.05, lambda: None)
    names = {n for n, _ in samples}
    dashboard = json.loads((ROOT / "docs/grafana-hotline.json").read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 12
    used = {m for e in exprs for m in re.findall(r"\bhotline_[a-z_]+", e)}
    assert used <= names, used - names
    shown = {re.sub(r"_(total|count|sum|bucket)$", "", u) for u in used}
    assert families >= REQUIRED and shown >= REQUIRED, REQUIRED - shown


def test_the_instrumentation_of_a_hop_costs_microseconds() -> None:
    """One labelled counter and one histogram observation, as ``metrics.hop`` does per hop:
    a guard against an accidental slow path (a hop itself costs hundreds of µs)."""
    from ussd.gateway import HopEvent

    event = HopEvent("bench", "*******8000", "menu", "digits", "step", 3.1)
    metrics.hop(event)
    seconds = min(timeit.repeat(lambda: metrics.hop(event), number=2000, repeat=5)) / 2000
    assert seconds < 50e-6, seconds
