"""SMS of a platform of hospitals: each booking's hospital signs and names its own SMS, a hospital
may have texts of its own (checked at load like the rest), messages about no one hospital carry
the platform's signature, a hospital removed by a reload still names its remaining bookings, and
reminders follow the hospital's own time zone."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytest_twisted
from demo_booking import NOW, valid_id
from twisted.internet.task import Clock

from booking.api import BookingRequest
from booking.catalog import load_catalog, load_platform
from booking.rules import day_label
from booking.testing import MemoryBookingService
from notify.events import EventConsumer
from notify.mo import MoCommands
from notify.templates import Renderer, TemplateError, load_templates, template_hospitals
from sms.api import OutgoingSms

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = load_templates(ROOT / "config/sms.yaml")
PLATFORM = load_platform(ROOT / "config/hospitals")


def event(hospital: str, dept: str, **more: str) -> dict[str, str]:
    return {"tcode": "1234567890", "dept": dept, "day": "2026-11-27", "session": "am",
            "hospital": hospital, "lang": "zh", **more}


def test_each_hospital_signs_and_names_its_own_sms() -> None:
    renderer = Renderer(TEMPLATES, PLATFORM, day_label, signature="【12580】")
    assert renderer.for_event("booked", event("sz-renmin", "nk")).startswith(
        "【市一医院】预约成功：内科 ")
    assert renderer.for_event("booked", event("ns-renmin", "xhnk")).startswith(
        "【南山医院】预约成功：消化内科 ")
    own = renderer.for_event("booked", event("ft-zhongyi", "zjk"))
    assert own.startswith("【福田中医院】已预约：针灸科") and "15分钟内支付" in own  # its own text
    assert "15分钟内支付" not in renderer.for_event("booked", event("ft-ertong", "xenk"))
    english = renderer.for_event("reminder", event("ft-ertong", "xenk", lang="en"))
    assert english.startswith("[Shenzhen Children's Hospital (demo)] Reminder: Paediatric")
    # about no one hospital: the platform's signature and name
    assert renderer.text("mo_help", "zh").startswith("【12580】回复")


def test_a_single_hospital_file_signs_with_its_name_as_before() -> None:
    single = load_catalog(ROOT / "config/hospital.yaml")
    renderer = Renderer(TEMPLATES, single, day_label)
    assert renderer.for_event("booked", event("", "nk")).startswith(
        "【深圳市第一人民医院（演示）】预约成功：内科")
    assert renderer.text("mo_help", "zh").startswith("【深圳市第一人民医院（演示）】")


def test_a_removed_hospital_still_names_its_remaining_bookings(tmp_path: Path) -> None:
    folder = tmp_path / "hospitals"
    shutil.copytree(ROOT / "config/hospitals", folder)
    renderer = Renderer(TEMPLATES, load_platform(folder), day_label)
    (folder / "2-ns-renmin.yaml").unlink()
    renderer.use(load_platform(folder))  # the reload
    text = renderer.for_event("cancelled", event("ns-renmin", "gk"))
    assert text.startswith("【南山医院】已取消：骨科")
    assert renderer.hospital("no-such") is None


def test_reminders_are_due_in_the_hospitals_own_time(tmp_path: Path) -> None:
    folder = tmp_path / "hospitals"
    shutil.copytree(ROOT / "config/hospitals", folder)
    path = folder / "6-lh-yanke.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "timezone: Asia/Shanghai", "timezone: Asia/Urumqi"), encoding="utf-8")
    platform = load_platform(folder)
    consumer = EventConsumer(None, None, Renderer(TEMPLATES, platform, day_label), Clock(),
                             catalog=platform, reminder_hour=18)
    day = dt.date(2026, 11, 27)
    shanghai = consumer.reminder_due(day, "sz-renmin")
    assert shanghai == dt.datetime(2026, 11, 26, 18, tzinfo=platform.hospitals[0].tz).timestamp()
    assert consumer.reminder_due(day, "lh-yanke") - shanghai == 2 * 3600  # Urumqi: UTC+6


@pytest.mark.parametrize(("section", "needle"), [
    ("hospitals:\n  a:\n    booked: {zh: '{signature}{colour}'}\n",
     "hospitals.a.booked.zh: unknown field(s) ['colour']"),
    ("hospitals:\n  a:\n    no_such_kind: {zh: x}\n", "hospitals.a.no_such_kind: there is no "
                                                     "common 'no_such_kind' text"),
    ("hospitals: [a, b]\n", "hospitals must map hospital ids"),
])
def test_a_hospitals_own_texts_are_checked_at_load(tmp_path: Path, section: str,
                                                   needle: str) -> None:  # fmt: skip
    path = tmp_path / "sms.yaml"
    path.write_text("booked: {zh: '{signature}{tcode}'}\n" + section, encoding="utf-8")
    with pytest.raises(TemplateError) as refused:
        load_templates(path)
    assert needle in str(refused.value) and str(path) in str(refused.value)


def test_the_shipped_texts_name_their_hospitals() -> None:
    assert template_hospitals(TEMPLATES) == {"ft-zhongyi"}
    assert template_hospitals(TEMPLATES) <= {h.id for h in PLATFORM.hospitals}


@pytest_twisted.ensureDeferred
async def test_mo_answers_name_each_bookings_hospital() -> None:
    """A list of bookings at two hospitals names each (short name) under the platform's
    signature; a cancel is answered by the notice of the booking's hospital."""
    clock = Clock()
    clock.advance(NOW.timestamp())
    booking = MemoryBookingService(PLATFORM, clock)
    phone = "8613700137000"
    made = [await booking.book(BookingRequest(dept, dt.date(2026, 11, 26), "am", valid_id(n),
                                              phone, "sms", hospital_id=hospital))
            for n, (hospital, dept) in enumerate([("sz-renmin", "nk"), ("ns-renmin", "gk")])]
    sent: list[OutgoingSms] = []
    renderer = Renderer(TEMPLATES, PLATFORM, day_label, signature="【12580】")
    consumer = EventConsumer(None, None, renderer, clock, catalog=PLATFORM)
    mo = MoCommands(booking, SimpleNamespace(send=sent.append), renderer, clock,
                    notice=consumer.message)
    listed = await mo.handle("12580", phone, "CX")
    assert listed.startswith("【12580】") and "市一医院" in listed and "南山医院 骨科" in listed
    done = await mo.handle("12580", phone, f"QX{made[1].tcode}")
    assert done.startswith("【南山医院】已取消：骨科") and made[1].tcode in done
    one = await mo.handle("12580", phone, "CX")  # one hospital left: its own signature
    assert one.startswith("【市一医院】") and "南山" not in one


def test_texts_and_tokens_of_hospitals_not_on_the_platform_are_logged_not_fatal() -> None:
    from twisted.logger import globalLogPublisher

    from hotline.app import load_static
    from settings.schema import load_settings

    logged: list[dict] = []
    globalLogPublisher.addObserver(logged.append)
    try:
        settings = load_settings(None, {"hospital": str(ROOT / "config/hospital.yaml"),
                                        "admin": {"hospital_tokens": {"gone": "t-gone"}}})
        platform, _, templates = load_static(settings)  # the shipped texts name ft-zhongyi
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert platform.single and "booked@ft-zhongyi" in templates
    warned = [e.get("hospital") for e in logged if "unknown_hospital" in e.get("log_format", "")]
    assert warned == ["ft-zhongyi", "gone"]
    assert not any("t-gone" in str(e) for e in logged)  # the token itself is never logged
