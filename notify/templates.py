"""Turn booking facts into SMS texts: templates per kind and language from ``config/sms.yaml``.

A missing template or a field a kind does not have is a configuration error found at start, not
when the first patient books.  The ``reasons`` section gives the patient-language text of each
refusal code (``booking.api.BookingError.code``) that an SMS answer may carry, so a Chinese
SMS never quotes an English reason; they are kept as kinds ``reason.<code>``.  ``Renderer``
fills a template from a booking event (the ``hl:events`` stream, ``notify.events``) or from a
booking's fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

_BOOKING = {"hospital", "dept", "day", "session", "tcode"}
TEMPLATE_FIELDS: dict[str, set[str]] = {
    "booked": _BOOKING,
    "reminder": _BOOKING,
    "cancelled": _BOOKING | {"reason"},
    "schedule_cancelled": _BOOKING | {"reason"},
    "refund": _BOOKING | {"reason"},
    "no_show": _BOOKING | {"reason"},
}
OPTIONAL_BOOKING_FIELDS: dict[str, set[str]] = {
    "no_show_barred": _BOOKING | {"until"},  # the no-show that made the ladder bar the ID
}
OPTIONAL_FIELDS: dict[str, set[str]] = {  # MO answers: may be absent from a config
    "mo_cancelled": {"hospital", "tcode"},
    "mo_cancel_failed": {"hospital", "tcode", "reason"},
    "mo_bookings": {"hospital", "bookings"},
    "mo_no_bookings": {"hospital"},
    "mo_registered": {"hospital", "count"},
    "mo_register_failed": {"hospital", "reason"},
    "mo_help": {"hospital"},
}
REASONS = "reasons"  # code -> {language: text}; plain texts, no fields
REASON_CODES = {  # the codes an SMS answer can carry (cancel and register refusals), and other
    "not_found", "rate_limited", "too_late", "cancelled", "already_checked_in", "expired",
    "no_show", "held", "invalid_id", "limit", "blacklisted", "bad_request", "other",
}
REQUIRED = ("booked",)  # older configs carry only this one; other kinds are skipped if absent
CountBooking = Callable[[str, str], None]  # (outcome, channel): the wiring's metrics counter


def no_count(outcome: str, channel: str) -> None:
    """The default counter: counts nothing (tests, tools without metrics)."""


class TemplateError(ValueError):
    pass


def load_templates(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path}: cannot load SMS templates: {exc}") from exc
    if not isinstance(data, Mapping):
        raise TemplateError(f"{path}: must map message kinds to {{language: text}}")
    for kind in REQUIRED:
        if not isinstance(data.get(kind), Mapping) or not data.get(kind):
            raise TemplateError(f"{path}: template {kind!r} is missing")
    data = dict(data)
    reasons = data.pop(REASONS, None) or {}
    if not isinstance(reasons, Mapping):
        raise TemplateError(f"{path}: {REASONS} must map refusal codes to {{language: text}}")
    for code in reasons:
        if code not in REASON_CODES:
            raise TemplateError(f"{path}: {REASONS}: unknown code {code!r}; "
                                f"known: {sorted(REASON_CODES)}")
    known = {**TEMPLATE_FIELDS, **OPTIONAL_BOOKING_FIELDS, **OPTIONAL_FIELDS,
             **{f"reason.{code}": set() for code in REASON_CODES}}
    data.update({f"reason.{code}": texts for code, texts in reasons.items()})
    for kind, per_lang in data.items():
        if kind not in known:
            raise TemplateError(f"{path}: unknown message kind {kind!r}; known: {sorted(known)}")
        if not isinstance(per_lang, Mapping) or not per_lang:
            raise TemplateError(f"{path}: {kind} must map languages to texts")
        allowed = known[kind]
        for lang, text in per_lang.items():
            try:
                used = {f for _, f, _, _ in Formatter().parse(str(text)) if f}
            except ValueError as exc:
                raise TemplateError(f"{path}: {kind}.{lang}: {exc}") from exc
            if used - allowed:
                raise TemplateError(
                    f"{path}: {kind}.{lang}: unknown field(s) {sorted(used - allowed)}; "
                    f"allowed: {sorted(allowed)}"
                )
    return {k: {lang: str(t) for lang, t in v.items()} for k, v in data.items()}


def _pick(names: Mapping[str, str], lang: str) -> str:
    return names.get(lang) or names.get("zh") or next(iter(names.values()), "")


class Renderer:
    """Fills templates; ``catalog`` gives department and session names (any object with
    ``.name`` and ``.department(id)``, i.e. ``booking.catalog.HospitalConfig``)."""

    def __init__(self, templates: Mapping[str, Mapping[str, str]], catalog: Any,
                 day_label: Callable[[dt.date, str], str], default_lang: str = "zh") -> None:
        self.templates = templates
        self.catalog = catalog
        self.day_label = day_label
        self.default_lang = default_lang

    def has(self, kind: str) -> bool:
        return kind in self.templates

    def text(self, kind: str, lang: str, **fields: Any) -> str:
        per_lang = self.templates[kind]
        lang = lang if lang in per_lang else (
            self.default_lang if self.default_lang in per_lang else next(iter(per_lang)))
        return per_lang[lang].format(hospital=_pick(self.catalog.name, lang), **fields)

    def reason(self, code: str, lang: str, fallback: str = "") -> str:
        """The patient-language text of a refusal code (``reasons`` in the templates); the
        ``other`` text for a code without one; ``fallback`` when the templates have neither."""
        for kind in (f"reason.{code}", "reason.other"):
            if kind in self.templates:
                return self.text(kind, lang)
        return fallback

    def booking_fields(self, dept_id: str, day: dt.date, session: str, lang: str
                       ) -> dict[str, str]:
        dept = self.catalog.department(dept_id)
        template = dept.session(session) if dept is not None else None
        return {
            "dept": _pick(dept.name, lang) if dept is not None else dept_id,
            "day": self.day_label(day, lang),
            "session": _pick(template.label, lang) if template is not None else session,
        }

    def for_event(self, kind: str, event: Mapping[str, str]) -> str:
        lang = event.get("lang") or self.default_lang
        day = dt.date.fromisoformat(event["day"])
        fields = self.booking_fields(event.get("dept", ""), day, event.get("session", ""), lang)
        extra = {}
        if kind == "no_show_barred":
            until = float(event.get("reason", "").partition(":")[2] or 0)
            extra["until"] = self.day_label(
                dt.datetime.fromtimestamp(until, self.catalog.tz).date(), lang)
        return self.text(kind, lang, tcode=event["tcode"], reason=event.get("reason", ""),
                         **fields, **extra)

