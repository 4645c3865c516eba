"""``node.workers: 2`` with real processes: ``hotline serve`` and its worker share the HTTP and
FastAGI sockets, a USSD dialogue moves between them, menus reload in both, a killed worker comes
back, and neither a stopped nor a killed main process leaves a worker behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, task
from twisted.web.client import HTTPConnectionPool
from workers_support import (
    ROOT,
    Connection,
    NodeProcess,
    PidWatch,
    connections_to,
    reactor,
    write_config,
)

from booking.idcard import check_char
from ivr.simulator import place_call

TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
PHONE = "13912345678"
ID17 = "44030519850101123"


async def started(node: NodeProcess) -> tuple[int, int, int]:
    """(http port, fastagi port, worker pid) once the main and its worker are up."""
    main = await node.line(r"hotline\.started role=main http=(\d+) fastagi=(\d+)")
    worker = await node.line(r"workers\.ready slot=1 pid=(\d+)")
    return int(main.group(1)), int(main.group(2)), int(worker.group(1))


async def stop(node: NodeProcess, how: str = "TERM") -> None:
    """Signal the main process and wait for it; SIGKILL it if it is still there after 15 s."""
    if node.ended.called:
        return
    os.kill(node.pid, signal.SIGCONT)  # in case a failed test left it stopped
    node.transport.signalProcess(how)  # type: ignore[union-attr]
    try:
        await node.exited().addTimeout(15, reactor())
    except defer.TimeoutError:
        node.transport.signalProcess("KILL")  # type: ignore[union-attr]
        raise


def samples(text: str) -> dict[tuple[str, ...], float]:
    """{(sample name, label values by label name...): value} of a scrape, as Prometheus
    parses it."""
    return {(s.name, *(v for _, v in sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def ussd(conn: Connection, inputs: list[str]) -> str:
    form = {"sessionId": "w-1", "serviceCode": "*12580#", "phoneNumber": PHONE,
            "networkCode": "46000", "text": "*".join(inputs)}
    code, reply = await conn.request(b"POST", b"/ussd/at", urlencode(form).encode())
    assert code == 200, reply
    return reply


@pytest_twisted.ensureDeferred
async def test_both_processes_serve_and_a_booking_moves_between_them(
    tmp_path: Path, redis_url: str, redis: Any
) -> None:
    node = NodeProcess.start(write_config(tmp_path, redis_url, workers=2))
    try:
        http, fastagi, worker = await started(node)
        assert fastagi != http
        # a burst of new connections: both processes accept from the one shared socket
        # (a loaded machine can leave one process unscheduled for a whole burst: up to 5 bursts)
        pool = HTTPConnectionPool(reactor(), persistent=False)
        served: set[int] = set()
        for _ in range(5):
            answers = await defer.gatherResults([
                treq.get(f"http://127.0.0.1:{http}/healthz", pool=pool)
                .addCallback(treq.json_content)
                for _ in range(40)
            ])  # fmt: skip
            served |= {a["pid"] for a in answers}
            if served == {node.pid, worker}:
                break
        assert served == {node.pid, worker}, served

        # one dialogue, hops alternating between a connection to each process
        conns = await connections_to(http, {node.pid, worker})
        # every process counts into the node's multiprocess directory: either scrape shows both
        code, text = await conns[node.pid].request(b"GET", b"/metrics")
        assert code == 200 and "\nhotline_processes 2.0\n" in text, text
        order = [conns[node.pid], conns[worker]]
        inputs: list[str] = []
        reply = ""
        for hop in range(14):
            reply = await ussd(order[hop % 2], inputs)
            if reply.startswith("END "):
                break
            asks_id = "身份证号码" in reply or "ID number" in reply
            inputs.append((ID17 + check_char(ID17)).replace("X", "*") if asks_id else "1")
        assert reply.startswith("END ") and TCODE.search(reply), (inputs, reply)
        assert hop >= 3  # several hops on each side
        # one scrape, whichever process answers it, counts the hops and the booking of both
        for pid in (node.pid, worker):
            code, text = await conns[pid].request(b"GET", b"/metrics")
            assert code == 200
            node_wide = samples(text)
            assert node_wide[("hotline_ussd_hops_total", "at", "new")] == 1.0, text
            assert sum(v for k, v in node_wide.items()
                       if k[0] == "hotline_ussd_hops_total") == hop + 1
            assert node_wide[("hotline_bookings_total", "ussd", "taken")] == 1.0
            assert node_wide[("hotline_processes",)] == 2.0
        # the SMPP bind is the main's alone; a worker's scrape shows it too (within ~1 s)
        for _ in range(50):
            text = (await conns[worker].request(b"GET", b"/metrics"))[1]
            if samples(text).get(("hotline_smpp_bound", "sms")) == 1.0:
                break
            await task.deferLater(reactor(), 0.1, lambda: None)
        assert samples(text).get(("hotline_smpp_bound", "sms")) == 1.0, text
        for conn in conns.values():
            conn.close()

        # FastAGI too: with the main process stopped (SIGSTOP) only the worker can take a call
        os.kill(node.pid, signal.SIGSTOP)
        try:
            second_id = "44030519850101124"
            keys = ["1", "1", "1", "1", (second_id + check_char(second_id)).replace("X", "*"), "1"]
            sim = await place_call(reactor(), fastagi, keys, callerid="13912345679").addTimeout(
                20, reactor())
        finally:
            os.kill(node.pid, signal.SIGCONT)
        assert len([d for d in sim.said_digits if len(d) == 10]) == 1, sim.format_transcript()
        # the worker's call, in a scrape the main process may answer
        text = await (await treq.get(f"http://127.0.0.1:{http}/metrics")).text()
        assert samples(text)[("hotline_bookings_total", "ivr", "taken")] == 1.0, text
    finally:
        await stop(node)
    # the worker logged its hops through the same masking setup: no full phone or ID number
    assert PHONE not in node.output() and ID17 not in node.output()


@pytest_twisted.ensureDeferred
async def test_a_menu_reload_reaches_the_worker_and_stop_leaves_no_worker(
    tmp_path: Path, redis_url: str
) -> None:
    menus = tmp_path / "menus"
    shutil.copytree(ROOT / "config/menus", menus)
    menu = menus / "booking.yaml"
    menu.write_text(menu.read_text(encoding="utf-8").replace("on_max: $goodbye", "on_max: $sms"),
                    encoding="utf-8")  # a caller who gives up gets the how-to SMS
    node = NodeProcess.start(write_config(tmp_path, redis_url, 2, menu))
    try:
        http, _, worker = await started(node)
        conns = await connections_to(http, {node.pid, worker})
        # the worker has no SMPP bind: its $sms goes through the main process to the SMSC
        inputs: list[str] = []
        reply = await ussd(conns[worker], inputs)
        while reply.startswith("CON ") and len(inputs) < 6:
            inputs.append("7")  # no such choice, again and again
            reply = await ussd(conns[worker], inputs)
        assert reply.startswith("END "), reply
        await node.line(r"smsc\.received from=12580")  # no booking here: only the help SMS

        menu.write_text(menu.read_text(encoding="utf-8").replace(
            "欢迎使用12580预约挂号。", "欢迎使用12580预约挂号(新)。"), encoding="utf-8")
        seen = len(node.lines)
        node.transport.signalProcess("HUP")  # type: ignore[union-attr]
        await node.line(r"menus\.reloaded menu=booking", after=seen)  # the main process
        first = node.lines.index(next(x for x in node.lines[seen:] if "menus.reloaded" in x))
        await node.line(r"menus\.reloaded menu=booking", after=first + 1)  # the worker
        reply = await ussd(conns[worker], [])
        assert "(新)" in reply, reply
        for conn in conns.values():
            conn.close()
        gone = PidWatch(worker)
        await stop(node, "TERM")
        await gone.exited.addTimeout(1, reactor())  # already reaped by the main process
        assert "workers.stopped slot=1" in node.output()
        try:
            os.kill(worker, 0)
            raise AssertionError(f"worker {worker} outlived the main process")
        except ProcessLookupError:
            pass
    finally:
        await stop(node, "KILL")


@pytest_twisted.ensureDeferred
async def test_a_hospital_removed_from_the_folder_leaves_the_main_and_its_worker(
    tmp_path: Path, redis_url: str
) -> None:
    hospitals = tmp_path / "hospitals"
    shutil.copytree(ROOT / "config/hospitals", hospitals)
    config = write_config(tmp_path, redis_url, 2)
    config.write_text(config.read_text(encoding="utf-8").replace(
        f"hospital: '{ROOT}/config/hospital.yaml'", f"catalog: '{hospitals}'"), encoding="utf-8")
    node = NodeProcess.start(config)
    try:
        await started(node)
        (hospitals / "6-lh-yanke.yaml").unlink()
        seen = len(node.lines)
        node.transport.signalProcess("HUP")  # type: ignore[union-attr]
        pattern = r"catalog\.reloaded hospitals=5 added=- removed=lh-yanke"
        await node.line(pattern, after=seen)  # the main process
        first = node.lines.index(next(x for x in node.lines[seen:] if "catalog.reloaded" in x))
        await node.line(pattern, after=first + 1)  # the worker
    finally:
        await stop(node)


@pytest_twisted.ensureDeferred
async def test_a_killed_worker_is_restarted_and_a_killed_main_takes_its_worker_along(
    tmp_path: Path, redis_url: str
) -> None:
    node = NodeProcess.start(write_config(tmp_path, redis_url, workers=2))
    try:
        http, _, first = await started(node)
        seen = len(node.lines)
        os.kill(first, signal.SIGKILL)
        died = await node.line(r"workers\.died slot=1 pid=(\d+) \((.*)\).*restarting", after=seen)
        assert int(died.group(1)) == first and "signal 9" in died.group(2), died.group(0)
        again = await node.line(r"workers\.ready slot=1 pid=(\d+)", after=seen)
        second = int(again.group(1))
        assert second != first
        conns = await connections_to(http, {node.pid, second})  # the new worker serves
        for conn in conns.values():
            conn.close()

        orphan = PidWatch(second)
        os.kill(node.pid, signal.SIGKILL)  # no stop message: the worker sees its stdin close
        await orphan.exited.addTimeout(10, reactor())
    finally:
        await stop(node, "KILL")
