"""The composition root: build the service tree from Settings and start it.

This is the only module that knows all packages. ``start()`` builds one process's share of a
node as a ``twisted.application`` service tree (docs/architecture.md, "The service tree")::

    hotline
    ├── storage     redis (embedded redis-server, pool)
    ├── core        sms (simulator, sender, reclaim, events), menu-versions, dialogue-rate,
    │               menu-reload, sweeper, ussd-smpp, shares-refresh, metrics-local
    └── edge        http, fastagi, workers

and returns a ``Running`` handle; ``Running.stop()`` stops the tree, each part in turn in
reverse order (workers and listeners first, then the SMS side, Redis last), so tests and
``hotline demo --once`` can start and stop a whole server in-process. A start that fails
stops what it had started before it raises.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from twisted.application.internet import TimerService
from twisted.logger import Logger
from twisted.web.resource import Resource

import fastpath
import metrics
from booking.catalog import load_platform
from booking.idcard import is_valid_resident_id
from booking.store import RedisBookingService
from dialogue.effects import booking_dialogue
from dialogue.languages import LanguageMemory
from hotline import kiosk_wiring, ussd_wiring, web_wiring
from hotline.role import Node
from hotline.services import Listener, Looping, Ordered, every
from hotline.sms_wiring import SmsService, start_sms
from hotreload.reloaders import PlatformReloader
from ivr.live import LiveSpeech
from ivr.prompt_texts import lexicons, voice_languages
from ivr.server import BACKLOG, FastAGIFactory
from logs.output import check_format
from menudesk.desk import MenuDesk
from menus.definition import MenuSource, load_menu
from menus.driver import Dialogue
from metrics.live import FLUSH_S, DialogueRate, sms_figures
from notify.templates import load_templates, template_hospitals
from settings.schema import Settings, SettingsError
from storage.client import redacted_url
from storage.readiness import ReadyGate
from storage.service import RedisService
from ussd.httpport import GatewayHttpFactory
from web.admin import install_booking
from web.console import install_console
from web.kiosk import KioskAccess, platform_owners
from web.live_speech import LiveSpeechResource
from web.root import build_root

log = Logger()

OnSms = Callable[[str, str, str], None]  # (to, from, text): what the SMSC simulator received

VALIDATORS = {"resident_id": is_valid_resident_id}


class HotlineService(Ordered):
    """The root of the tree: three layers, started in this order and stopped in reverse."""

    def __init__(self, clock: Any) -> None:
        super().__init__("hotline", clock=clock)
        self.storage = self.add(Ordered("storage", clock=clock))
        self.core = self.add(Ordered("core", clock=clock))
        self.edge = self.add(Ordered("edge", clock=clock))


@dataclass
class Running:
    """Handles of a started server; ``stop()`` stops its service tree."""

    settings: Settings
    booking: RedisBookingService
    dialogue: Dialogue
    http_port: int
    fastagi_port: int
    smsc_port: int | None
    redis_url: str
    service: HotlineService
    node: Node = field(default_factory=Node)
    links: Any = None  # the /t/<token> link store (web.ticket_links.TicketLinks)

    async def stop(self) -> None:
        if self.service.running:
            await self.service.stopService()


def mount_live_speech(root: Any, settings: Settings, menus: MenuSource) -> LiveSpeech | None:
    """``/voice/live/`` and the ``LiveSpeech`` calls use, when ``ivr.live_speech.enabled``."""
    conf = settings.raw["ivr"].get("live_speech") or {}
    if not conf.get("enabled"):
        return None
    if not conf.get("url"):
        raise ValueError("ivr.live_speech.url: the URL Asterisk fetches speech from is required")
    live = LiveSpeech(str(conf["url"]), settings.path(conf["cache_dir"]))
    languages = frozenset(
        lang for menu in menus.definitions.values() for lang in voice_languages(menu)
    )
    voice = Resource()
    voice.putChild(b"live", LiveSpeechResource(live, languages))
    root.putChild(b"voice", voice)
    return live


def load_static(settings: Settings) -> tuple[Any, MenuSource, dict[str, dict[str, str]]]:
    """Load and validate everything operators edit; raises with file:line before anything starts."""
    hospitals = load_platform(settings.hospital_file)
    menus = MenuSource({})
    for path in settings.menu_files:
        definition = load_menu(path)
        menus = MenuSource({**menus.definitions, definition.name: definition})
    templates = load_templates(settings.sms_templates)
    check_format(settings.raw["log"]["format"])
    _unused_hospital_names(settings, hospitals, templates)
    return hospitals, menus, templates


def _unused_hospital_names(settings: Settings, hospitals: Any, templates: Any) -> None:
    """SMS texts or an admin token for a hospital the platform does not have: logged, not fatal
    (the shipped texts also serve a single hospital's file; a removed hospital leaves its own)."""
    ids = {h.id for h in hospitals.hospitals}
    for hospital in sorted(template_hospitals(templates) - ids):
        log.warn("sms.templates_unknown_hospital hospital={hospital} file={file}: its texts are "
                 "unused", hospital=hospital, file=str(settings.sms_templates))
    for hospital in sorted(set(settings.raw["admin"]["hospital_tokens"]) - ids):
        log.warn("admin.token_unknown_hospital hospital={hospital}: no such hospital (yet)",
                 hospital=hospital)


def http_edge(settings: Settings) -> tuple[KioskAccess, dict[str, Any]]:
    """Who may use the kiosk API, and the HTTP port's limits and timeouts (docs/operations.md)."""
    http = settings.raw["http"]
    try:
        edge = {key: float(http[key]) for key in
                ("header_timeout_s", "body_timeout_s", "keepalive_timeout_s")}
        edge["max_body_bytes"] = int(http["max_body_bytes"])
        if min(edge.values()) <= 0:
            raise ValueError("http timeouts and max_body_bytes must be positive")
        return KioskAccess.from_settings(settings.raw), edge
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"settings: {exc}") from exc


async def start(
    settings: Settings,
    reactor: Any,
    *,
    on_sms: OnSms | None = None,
    clock: Any = None,
    node: Node | None = None,
    retry_clock: Any = None,
) -> Running:
    """Start everything. ``clock`` (default: the reactor) is booking's notion of now. ``node``
    (default: the main process, ``node.workers`` from settings) says which part runs here.
    ``retry_clock`` (default: the reactor) times the waits for a Redis not ready yet.

    The HTTP port is bound first and answers 503 (``/healthz``: starting, and why) until
    Redis takes writes and everything is wired (``storage.readiness``)."""
    fastpath.configure(settings.raw["node"]["fast_path"])  # before any connection is made
    node = node or Node.main_for(settings)
    if node.main and not node.alone:  # one scrape shows every process (metrics)
        metrics.use_multiprocess(settings.data_dir / "metrics")
    clock, retry_clock = clock or reactor, retry_clock or reactor
    tree = HotlineService(reactor)
    tree.startService()  # empty layers; each part starts as it is added
    try:
        return await _wire(tree, settings, reactor, node, on_sms=on_sms, clock=clock,
                           retry_clock=retry_clock)
    except BaseException:
        await tree.stopService()  # a failed start leaves nothing running
        raise


async def _wire(tree: HotlineService, settings: Settings, reactor: Any, node: Node, *,
                on_sms: OnSms | None, clock: Any, retry_clock: Any) -> Running:
    """Add each part to ``tree`` as what it needs becomes available."""
    hospitals, menus, templates = load_static(settings)  # malformed files and settings stop
    kiosk_access, edge = http_edge(settings)  # here, before any part starts
    gate = ReadyGate()
    http = tree.edge.add(Listener("http", lambda: node.listeners.listen(
        reactor, "http", settings.http_port, gate, settings.http_interface, 1024)))
    redis_service = tree.storage.add(RedisService(settings, retry_clock, note=gate.note))
    redis = await redis_service.ready
    redis_url = redis_service.url  # a worker: the main's URL

    booking = RedisBookingService(
        redis, hospitals, clock=clock,
        listing_cache_s=float(settings.raw["booking"]["listing_cache_s"]),  # default 1 s
        **settings.booking_scopes,
    )
    links = kiosk_wiring.ticket_links(settings, redis, hospitals, clock)  # /t/<token>
    core = tree.core
    sms: SmsService
    if node.main:  # the singletons: SMPP bind, hl:events -> SMS outbox, MO text commands
        sms = core.add(start_sms(settings, reactor, redis, hospitals, templates, on_sms=on_sms))
        await sms.attach(booking, hospitals, link=kiosk_wiring.link_maker(  # the reloaded one:
            links, booking, partial(getattr, booking, "platform")))  # no frame of ours per SMS
    else:
        sms = core.add(node.worker_sms(settings, reactor, redis, booking, hospitals, templates))
    catalogs = PlatformReloader(settings.hospital_file, load_platform, clock=reactor,
                                platform=hospitals,  # the hospitals' files, reloaded
                                swap=[booking.replace_platform, sms.renderer.use])
    kiosk_access = replace(kiosk_access, owners=platform_owners(lambda: catalogs.platform))
    sender, smsc_port = sms.sender, sms.smsc_port
    sms_help = sms.mo.send_help if sms.mo else None
    versions = ussd_wiring.menu_versions(settings, redis, menus)  # for dialogues moving nodes
    await versions.publish_all()
    core.add(every("menu-versions", versions.republish_every_s, versions.republish, reactor))
    rate = DialogueRate(redis, clock)  # calls and USSD dialogues per minute (the console)
    core.add(every("dialogue-rate", FLUSH_S, rate.flush, reactor, last=True))
    dialogue = booking_dialogue(menus, booking, reactor, VALIDATORS, sms_help=sms_help,
                                languages=LanguageMemory(redis), fetch_version=versions.fetch,
                                count=metrics.booking, count_begin=rate.hit)
    reloading = core.add(node.reloading(menus, settings.menu_files, reactor,  # watch + SIGHUP
                                        on_event=versions.on_reload, hospitals=catalogs))

    ussd = ussd_wiring.at_resource(settings, dialogue, redis, reactor)
    root = build_root(booking, redis.ping, ussd_at=ussd, kiosk_access=kiosk_access,
                      count=metrics.booking)
    ussd_smpp = ussd_wiring.mount(root, settings, dialogue, redis, reactor)  # + SMPP bind
    install_booking(root, booking, settings)
    web_wiring.mount(root, settings, booking, redis, clock, sender, menus, templates,
                     hospitals.hospitals[0])  # its timezone dates the ID checks' today
    kiosk_wiring.mount_kiosk(root, settings, booking, hospitals, links, kiosk_access,
                             count=metrics.booking)  # /kiosk/, the PDF slip, /t/<token>
    install_console(root, booking, redis, settings.raw,
                    days_ahead=max(h.days_ahead for h in hospitals.hospitals),
                    clock=clock, rate=rate, sms_figures=lambda: sms_figures(redis),
                    sms=(sms.sender, sms.renderer),  # live dashboard, appeal decisions
                    menus=MenuDesk(  # the console's menu pages and simulator
                        menus, settings.menu_files, redis=redis, clock=clock,
                        platform=lambda: booking.platform, validators=VALIDATORS,
                        reload=reloading.reloader.reload_all,
                        limits=ussd_wiring.limits_for(settings, "at")))
    if node.main:  # holds and no-shows are swept by the main process alone
        interval = float(settings.raw["booking"].get("sweep_interval", 1.0))
        core.add(Looping("sweeper", lambda: booking.start_sweeper(reactor, interval)))
    if ussd_smpp is not None:
        core.add(ussd_smpp)
    refresh = node.share_refresh(booking, reactor)  # admin share changes made in other processes
    if refresh is not None:
        core.add(refresh)
    sms.mount_admin(root, settings)  # /api/admin/sms/{status,dead,message}
    facts = metrics.ScrapeFacts()
    metrics.register_facts(facts, redis=redis, clock=reactor)
    gateways = [*_gateways(root), *([ussd_smpp.gateway] if ussd_smpp is not None else [])]
    for gateway in gateways:
        gateway.on_hop = metrics.hop
    resource = metrics.MetricsResource(facts)
    root.putChild(b"metrics", resource)
    lean = ussd_wiring.gateway_routes(root)
    routes = metrics.Routes(metrics.templates_of(root, lean))
    site = metrics.CountingSite(root, routes)  # gateway connections are served leanly, rest here
    port = GatewayHttpFactory(site, lean, clock=reactor, count=routes.count,
                              **edge)

    live = mount_live_speech(root, settings, menus)  # None unless ivr.live_speech.enabled
    transfer = settings.raw["ivr"]["transfer"]  # channel.transfer: EXEC Dial targets (docs/ivr.md)
    agi_factory = FastAGIFactory(
        dialogue,
        clock=reactor,
        default_menu=settings.default_menu,
        transfer_targets=transfer["targets"] or {},
        dial_timeout_s=int(transfer["dial_timeout_s"]),
        lexicons=lexicons(menus.definitions.values(), hospitals),  # every hospital's names whole
        live=live.url if live is not None else None,
        numbers=settings.raw["ivr"]["numbers"],  # dialed number -> hospital
    )
    agi = tree.edge.add(Listener("fastagi", lambda: node.listeners.listen(
        reactor, "fastagi", settings.fastagi_port, agi_factory, settings.fastagi_interface,
        BACKLOG)))
    agi_factory.on_command = metrics.agi_command
    timeout_s = float((settings.raw.get("ussd") or {}).get("timeout_s", 180))
    resource.local = metrics.LocalGauges(
        calls=lambda: len(agi_factory.active),
        dialogues=lambda: metrics.live_dialogues({g.store for g in gateways}, timeout_s,
                                                 reactor.seconds),
        binds={"sms": sender, "ussd": ussd_smpp} if node.main else {})  # the main's alone
    if not node.alone:  # another process may answer the scrape: keep this one's share current
        local = TimerService(1.0, resource.local.refresh)
        local.clock = reactor
        local.setName("metrics-local")
        core.add(local)
    gate.open(port)  # ready: new connections get the real port
    workers = node.start_workers(settings, reactor, redis_url, sender)
    if workers is not None:
        tree.edge.add(workers)  # stopped first

    running = Running(
        settings=settings,
        booking=booking,
        dialogue=dialogue,
        http_port=http.port.getHost().port,
        fastagi_port=agi.port.getHost().port,
        smsc_port=smsc_port,
        redis_url=redis_url,
        service=tree,
        node=node,
        links=links,
    )
    log.info(
        "hotline.started role={role} http={http} fastagi={agi} redis={redis} python={python} "
        "fast_path={fast_path}",
        role=node.role,
        http=running.http_port,
        agi=running.fastagi_port,
        redis=redacted_url(redis_url),
        # which interpreter build runs matters for CPU per request (docs/operations.md)
        python=f"{platform.python_version()} ({sys.base_prefix})",
        fast_path=",".join(sorted(fastpath.pieces())) or "off",  # docs/operations.md
    )
    return running


def _gateways(root: Any) -> list[Any]:
    """The USSD gateways behind the HTTP adapters under ``/ussd`` (their hops are counted)."""
    ussd = root.children.get(b"ussd")
    found = [] if ussd is None else [c.gateway for c in ussd.children.values()
                                     if hasattr(c, "gateway")]
    return found
