"""Run the server under the reactor.

``serve`` runs until stopped; ``demo`` adds a banner and prints each SMS; ``demo --once`` books one
slot over real HTTP, opens the QR page its SMS links to, asks the kiosk API about the code and
exits (a smoke test of the whole product).

Without ``web.public_url`` the demo's confirmation SMS links to the demo's own
``http://127.0.0.1:<port>``; ``serve`` never guesses an address patients could not reach.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twisted.internet import defer
from twisted.internet.task import react
from twisted.logger import Logger

from logs.output import start_logging
from node.gctune import tune_gc
from pii import mask_tail
from settings.schema import Settings, merge

log = Logger()

DEMO_PHONE = "13800138000"
DEMO_ID_KEYED = "11010519491231002*"  # 11010519491231002X: a keypad types X as *
TCODE = re.compile(r"(?<!\d)\d{10}(?!\d)")
QR_LINK = re.compile(r"https?://\S+?/t/[A-Za-z0-9_-]{22,}")


def run(settings: Settings, *, demo: bool, once: bool) -> int:
    from twisted.internet import reactor

    from node.link import WholeLines

    stream = WholeLines(sys.stdout.fileno()) if settings.workers > 1 else sys.stdout  # shared
    start_logging(stream, level="warn" if once else "info", clock=reactor,  # type: ignore[arg-type]
                  fmt=settings.raw["log"]["format"])
    scratch: Path | None = None
    if once:  # a private data dir: the scripted booking must not collide with earlier demo runs
        scratch = Path(tempfile.mkdtemp(prefix="hotline-demo-"))
        settings = Settings(settings.base_dir, merge(settings.raw, {"data_dir": str(scratch)}))
    outcome: dict[str, int] = {"code": 0}
    try:
        react(lambda reactor: defer.ensureDeferred(_main(reactor, settings, demo, once, outcome)))
    except SystemExit as exc:
        if exc.code not in (0, None):
            return int(exc.code)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return outcome["code"]


async def _main(
    reactor: Any, settings: Settings, demo: bool, once: bool, outcome: dict[str, int]
) -> None:
    from hotline.app import start

    sms_seen: list[tuple[str, str]] = []
    sms_waiter: defer.Deferred[None] = defer.Deferred()

    gateway = "ISMG" if settings.cmpp is not None else "SMSC"  # CMPP's or SMPP's simulator

    def on_sms(to: str, source: str, text: str) -> None:
        print(f"[{gateway}] SMS to {mask_tail(to)} from {source}: {text}", flush=True)
        sms_seen.append((to, text))
        if not sms_waiter.called:
            sms_waiter.callback(None)

    from hotline.role import Node

    reactor.callWhenRunning(_stop_once_on_sigterm, reactor)  # after Twisted installs its own
    node = Node.main_for(settings, log_level="warn" if once else "info")  # + node.workers - 1
    running = await start(settings, reactor, on_sms=on_sms if demo else None, node=node)
    if demo:
        link_to_self(running)
    tune_gc(settings.raw["node"]["gc"])  # after start-up: see node/gctune.py
    if not once:
        reactor.addSystemEventTrigger(
            "before", "shutdown", lambda: defer.ensureDeferred(running.stop())
        )
        if settings.raw["log"]["format"] == "text":  # json: a collector reads stdout, lines only
            _banner(running.http_port, running.fastagi_port, demo,
                    running.links.base if running.links is not None else "", running.redis_url)
        await defer.Deferred()  # until Ctrl-C / SIGTERM: the shutdown trigger stops everything
        return
    try:
        outcome["code"] = await scripted_booking(reactor, running.http_port, sms_waiter, sms_seen)
    finally:
        await running.stop()


def link_to_self(running: Any) -> None:
    """The demo's SMS links to the QR page at its own address when ``web.public_url`` is unset
    (``serve`` never guesses: a wrong address would send patients to a dead link)."""
    if running.links is not None and not running.links.base:
        running.links.base = f"http://127.0.0.1:{running.http_port}"


def _stop_once_on_sigterm(reactor: Any) -> None:
    """A second SIGTERM (a group kill, or ``timeout`` passing one on) must not ask a stopping
    reactor to stop again: Twisted logs that as a critical ReactorNotRunning traceback."""
    import signal

    from twisted.internet.error import ReactorNotRunning

    def stop() -> None:
        try:
            reactor.stop()
        except ReactorNotRunning:
            return  # already stopping
        log.info("Received SIGTERM, shutting down.")

    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(stop))


def _banner(http_port: int, agi_port: int, demo: bool, link_base: str = "",
            redis_url: str = "") -> None:
    base = f"http://127.0.0.1:{http_port}"
    qr = (f"each booking SMS links to {link_base}/t/<token>" if link_base else
          "set web.public_url and each booking SMS links to its /t/<token>")
    form = "sessionId=demo1&serviceCode=*12580%23&phoneNumber=13800138000&networkCode=46000&text="
    print(
        f"""
hotline is running{" (demo: embedded Redis, loopback SMSC)" if demo else ""}.
  USSD   curl -s -d '{form}' {base}/ussd/at
         then repeat with text=1, text=1*1, ... (all inputs so far, joined by *)
  Voice  Asterisk dialplan: same => n,AGI(agi://127.0.0.1:{agi_port}/booking)
  Kiosk  touch screen: {base}/kiosk/#kiosk=k1 (type or scan a T-code + Enter; docs/kiosk.md)
         API: curl -s -d '{{"tcode":"<code>","kiosk_id":"k1"}}' {base}/api/kiosk/verify
  Web    {base}/book/   (patients book in a phone's browser; docs/web.md)
  QR     {qr} (docs/kiosk.md)
  Console {base}/console/   (docs/console.md); a first account, password from stdin:
         hotline users --redis-url {redis_url} add NAME --platform --role admin
  Health curl -s {base}/healthz
{"Each SMS the simulated SMSC receives is printed here. " if demo else ""}Ctrl-C stops.
""",
        flush=True,
    )


async def _post(reactor: Any, url: str, body: bytes, content_type: bytes) -> tuple[int, str]:
    from io import BytesIO

    from twisted.web.client import Agent, FileBodyProducer, readBody
    from twisted.web.http_headers import Headers

    agent = Agent(reactor)
    headers = Headers({b"content-type": [content_type]})
    response = await agent.request(b"POST", url.encode(), headers, FileBodyProducer(BytesIO(body)))
    return response.code, (await readBody(response)).decode("utf-8")


async def _get(reactor: Any, url: str) -> tuple[int, str]:
    from twisted.web.client import Agent, readBody

    response = await Agent(reactor).request(b"GET", url.encode())
    return response.code, (await readBody(response)).decode("utf-8")


async def scripted_booking(
    reactor: Any, http_port: int, sms_waiter: defer.Deferred[None], sms_seen: list[tuple[str, str]]
) -> int:
    """Answer 1 at every menu and the demo ID when asked; open the QR page the SMS links to;
    then ask the kiosk about the T-code."""
    base = f"http://127.0.0.1:{http_port}"
    inputs: list[str] = []
    reply = ""
    for _hop in range(20):
        form = {
            "sessionId": "demo-once",
            "serviceCode": "*12580#",
            "phoneNumber": DEMO_PHONE,
            "networkCode": "46000",
            "text": "*".join(inputs),
        }
        body = urlencode(form).encode()
        status, reply = await _post(
            reactor, f"{base}/ussd/at", body, b"application/x-www-form-urlencoded"
        )
        print(f"[USSD] > {form['text'] or '(dial)'}\n{reply}\n", flush=True)
        if status != 200 or not reply.startswith("CON "):
            break
        asks_id = "身份证号码" in reply or "ID number" in reply
        inputs.append(DEMO_ID_KEYED if asks_id else "1")
    match = TCODE.search(reply)
    if not reply.startswith("END ") or match is None:
        print("demo: the USSD booking did not end with a T-code", file=sys.stderr)
        return 3
    tcode = match.group(0)
    await defer.DeferredList([sms_waiter], fireOnOneErrback=True).addTimeout(10, reactor)
    texts = [text for _, text in sms_seen if tcode in text]
    if not texts:
        print("demo: no SMS carried the T-code", file=sys.stderr)
        return 3
    link = QR_LINK.search(texts[0])
    if link is None:
        print("demo: the booking SMS carries no link to the QR page", file=sys.stderr)
        return 3
    if link.group(0).startswith(base + "/"):  # web.public_url may name another address
        status, page = await _get(reactor, link.group(0))
        print(f"[QR] GET {link.group(0)} → {status}", flush=True)
        if status != 200 or tcode not in page:
            print("demo: the QR page of the SMS link does not show the T-code", file=sys.stderr)
            return 3
    body = json.dumps({"tcode": tcode, "kiosk_id": "demo-kiosk"}).encode()
    status, answer = await _post(reactor, f"{base}/api/kiosk/verify", body, b"application/json")
    print(f"[KIOSK] POST /api/kiosk/verify → {status} {answer}", flush=True)
    if status == 409 and "not_today" in answer:
        print("demo: the kiosk refuses the code today because the visit is on a later day;"
              " on the visit day the same code checks in once.", flush=True)
    elif status != 200:
        print("demo: the kiosk did not recognise the T-code", file=sys.stderr)
        return 3
    print(f"demo: booked by USSD, SMS sent with the QR link, T-code {tcode} known to the kiosk",
          flush=True)
    return 0
