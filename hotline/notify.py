"""Turn booking events into SMS: the T-code message after a confirmed booking.

Templates live in ``config/sms.yaml`` (kind → language → text with ``{fields}``); a missing field
or template is a configuration error found at start, not when the first patient books.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Formatter

import yaml

from booking.api import Booking
from sms.api import OutgoingSms, Sender

TEMPLATE_FIELDS = {"booked": {"hospital", "dept", "day", "session", "tcode"}}


class TemplateError(ValueError):
    pass


def load_templates(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot load SMS templates: {exc}") from exc
    if not isinstance(data, Mapping):
        raise TemplateError(f"{path}: must map message kinds to {{language: text}}")
    for kind, allowed in TEMPLATE_FIELDS.items():
        per_lang = data.get(kind)
        if not isinstance(per_lang, Mapping) or not per_lang:
            raise TemplateError(f"{path}: template {kind!r} is missing")
        for lang, text in per_lang.items():
            used = {f for _, f, _, _ in Formatter().parse(str(text)) if f}
            if used - allowed:
                raise TemplateError(
                    f"{path}: {kind}.{lang}: unknown field(s) {sorted(used - allowed)}; "
                    f"allowed: {sorted(allowed)}"
                )
    return {k: {lang: str(t) for lang, t in v.items()} for k, v in data.items()}


def _pick(names: Mapping[str, str], lang: str) -> str:
    return names.get(lang) or next(iter(names.values()), "")


class SmsNotifier:
    """A booking listener: renders the confirmation and queues it; never blocks the booking."""

    def __init__(
        self,
        sender: Sender,
        templates: Mapping[str, Mapping[str, str]],
        hospital_name: Mapping[str, str],
        day_label: Callable[[dt.date, str], str],
        lang: str = "zh",
    ) -> None:
        self.sender = sender
        self.templates = templates
        self.hospital_name = hospital_name
        self.day_label = day_label
        self.lang = lang

    def booked_text(self, booking: Booking) -> str:
        booked = self.templates["booked"]
        lang = self.lang if self.lang in booked else next(iter(booked))
        return self.templates["booked"][lang].format(
            hospital=_pick(self.hospital_name, lang),
            dept=_pick(booking.dept_name, lang),
            day=self.day_label(booking.day, lang),
            session=_pick(booking.session_label, lang),
            tcode=booking.tcode,
        )

    def __call__(self, booking: Booking) -> None:
        text = self.booked_text(booking)
        self.sender.send(OutgoingSms(to=booking.msisdn, text=text, key=f"booked:{booking.tcode}"))
