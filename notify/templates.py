"""Turn booking facts into SMS texts: templates per kind and language from ``config/sms.yaml``.

A missing template or a field a kind does not have is a configuration error found at start, not
when the first patient books.  The ``reasons`` section gives the patient-language text of each
refusal code (``booking.api.BookingError.code``) that an SMS answer may carry, so a Chinese
SMS never quotes an English reason; they are kept as kinds ``reason.<code>``.  ``Renderer``
fills a template from a booking event (the ``hl:events`` stream, ``notify.events``) or from a
booking's fields.

Every text may use ``{signature}``, the 签名 carriers require at the head of an SMS: the booking
hospital's ``sms_signature`` (its hospital file; absent: 【<its short name>】). A message about no
one hospital (an MO answer on a platform of several) carries the platform's (``sms.signature``).
A ``hospitals:`` section gives one hospital's own texts of some kinds, checked like the rest::

    hospitals:
      ft-zhongyi:
        booked: {zh: "{signature}预约待付款：…"}

They are kept as kinds ``<kind>@<hospital id>``; a hospital without its own text of a kind gets
the common one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

_BOOKING = {"hospital", "signature", "dept", "day", "session", "tcode"}
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
    "booked_link": _BOOKING | {"link"},  # ``booked`` with the QR page's link (web.public_url)
}
# SMS parts a kind may take (1 unless listed): hospitals pay per part. A text with a link that
# would take more is sent without the link (``booked``); tests/hotline/test_sms_parts.py checks
# the shipped texts with the longest realistic values.
PARTS_BUDGET: dict[str, int] = {"booked_link": 2, "appeal_lifted": 2, "appeal_refused": 2}
_ANY = {"hospital", "signature"}
OPTIONAL_FIELDS: dict[str, set[str]] = {  # MO answers: may be absent from a config
    "mo_cancelled": _ANY | {"tcode"},
    "mo_cancel_failed": _ANY | {"tcode", "reason"},
    "mo_bookings": _ANY | {"bookings"},
    "mo_no_bookings": _ANY,
    "mo_registered": _ANY | {"count"},
    "mo_register_failed": _ANY | {"reason"},
    "mo_help": _ANY,
    "otp": {"code", "minutes"},  # the one-time code proving a phone (web, terminals)
    "appeal_received": _ANY,  # an appeal (MO ``SS``) is queued for the bar's hospital
    "appeal_not_barred": _ANY,  # an appeal from a phone none of whose IDs is barred
    "appeal_lifted": _ANY | {"reason"},  # the console's decisions, {reason}: the staff's words
    "appeal_refused": _ANY | {"reason", "until"},
}
REASONS = "reasons"  # code -> {language: text}; plain texts, no fields
HOSPITALS = "hospitals"  # hospital id -> {kind: {language: text}}: one hospital's own texts
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
    own = data.pop(HOSPITALS, None) or {}
    if not isinstance(own, Mapping) or not all(
            isinstance(h, str) and isinstance(k, Mapping) for h, k in own.items()):
        raise TemplateError(f"{path}: {HOSPITALS} must map hospital ids to {{kind: {{language: "
                            "text}}}")
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
    for hospital, kinds in own.items():
        for kind, texts in kinds.items():
            if kind not in data:
                raise TemplateError(f"{path}: {HOSPITALS}.{hospital}.{kind}: there is no common "
                                    f"{kind!r} text for it to replace")
            data[f"{kind}@{hospital}"] = texts
    for name, per_lang in data.items():
        kind = name.partition("@")[0]
        if kind not in known:
            raise TemplateError(f"{path}: unknown message kind {kind!r}; known: {sorted(known)}")
        if not isinstance(per_lang, Mapping) or not per_lang:
            raise TemplateError(f"{path}: {kind} must map languages to texts")
        allowed = known[kind]
        for lang, text in per_lang.items():
            try:
                used = {f for _, f, _, _ in Formatter().parse(str(text)) if f}
            except ValueError as exc:
                raise TemplateError(f"{path}: {_where(name)}.{lang}: {exc}") from exc
            if used - allowed:
                raise TemplateError(
                    f"{path}: {_where(name)}.{lang}: unknown field(s) {sorted(used - allowed)}; "
                    f"allowed: {sorted(allowed)}"
                )
    return {k: {lang: str(t) for lang, t in v.items()} for k, v in data.items()}


def _where(name: str) -> str:
    kind, _, hospital = name.partition("@")
    return f"{HOSPITALS}.{hospital}.{kind}" if hospital else kind


def template_hospitals(templates: Mapping[str, Any]) -> set[str]:
    """The hospital ids that have texts of their own (the wiring checks them against the
    platform at start, so a misspelt id is an error, not a silently unused text)."""
    return {name.partition("@")[2] for name in templates if "@" in name}


def _pick(names: Mapping[str, str], lang: str) -> str:
    return names.get(lang) or names.get("zh") or next(iter(names.values()), "")


def _hospitals(catalog: Any) -> tuple[Any, ...]:
    """The hospitals of a platform (``.hospitals``), or the one hospital given."""
    return tuple(getattr(catalog, "hospitals", None) or (catalog,))


def signature_of(hospital: Any) -> str:
    """A hospital's SMS signature: its ``sms_signature``, else 【its short name】."""
    if hospital.sms_signature:
        return str(hospital.sms_signature)
    names = hospital.short or hospital.name
    return f"【{_pick(names, 'zh')}】"


class Renderer:
    """Fills templates. ``catalog`` is the platform (``booking.catalog.Platform``) or one
    hospital (``HospitalConfig``): hospital, department and session names, signatures.
    ``use()`` swaps in a reloaded platform; a hospital it no longer has is still known, so the
    notices of its existing bookings still name it. ``signature``: the platform's, for
    messages about no one hospital (a platform of one: its hospital's)."""

    def __init__(self, templates: Mapping[str, Mapping[str, str]], catalog: Any,
                 day_label: Callable[[dt.date, str], str], default_lang: str = "zh",
                 signature: str | None = None) -> None:  # fmt: skip
        self.templates = templates
        self.day_label = day_label
        self.default_lang = default_lang
        self.platform_signature = signature
        self._known: dict[str, Any] = {}
        self.use(catalog)

    def use(self, catalog: Any) -> None:
        """Render with this platform from now on (a reload)."""
        self.catalog = catalog
        self._known.update({h.id: h for h in _hospitals(catalog)})

    def hospital(self, hospital_id: str = "") -> Any | None:
        """The hospital of an id (``""``: the only one of a platform of one), also one a
        reload removed; None when there is no such hospital."""
        if hospital_id:
            return self._known.get(hospital_id)
        current = _hospitals(self.catalog)
        return current[0] if len(current) == 1 else None

    def has(self, kind: str) -> bool:
        return kind in self.templates

    def text(self, kind: str, lang: str, hospital_id: str = "", **fields: Any) -> str:
        """``kind`` in ``lang``, as ``hospital_id``'s (``""``: the platform's) message."""
        hospital = self.hospital(hospital_id)
        per_lang = self.templates[kind]
        if hospital is not None:
            per_lang = self.templates.get(f"{kind}@{hospital.id}", per_lang)
        lang = lang if lang in per_lang else (
            self.default_lang if self.default_lang in per_lang else next(iter(per_lang)))
        if hospital is not None:
            name, signature = _pick(hospital.name, lang), signature_of(hospital)
        else:
            name = _pick(self.catalog.name or {}, lang)
            signature = self.platform_signature or ""
        return per_lang[lang].format(hospital=name, signature=signature, **fields)

    def reason(self, code: str, lang: str, fallback: str = "") -> str:
        """The patient-language text of a refusal code (``reasons`` in the templates); the
        ``other`` text for a code without one; ``fallback`` when the templates have neither."""
        for kind in (f"reason.{code}", "reason.other"):
            if kind in self.templates:
                return self.text(kind, lang)
        return fallback

    def booking_fields(self, dept_id: str, day: dt.date, session: str, lang: str,
                       hospital_id: str = "") -> dict[str, str]:  # fmt: skip
        hospital = self.hospital(hospital_id)
        dept = hospital.department(dept_id) if hospital is not None else None
        template = dept.session(session) if dept is not None else None
        return {
            "dept": _pick(dept.name, lang) if dept is not None else dept_id,
            "day": self.day_label(day, lang),
            "session": _pick(template.label, lang) if template is not None else session,
        }

    def for_event(self, kind: str, event: Mapping[str, str], **more: str) -> str:
        lang = event.get("lang") or self.default_lang
        day = dt.date.fromisoformat(event["day"])
        hospital_id = event.get("hospital", "")
        fields = self.booking_fields(event.get("dept", ""), day, event.get("session", ""), lang,
                                     hospital_id)  # fmt: skip
        extra = {}
        if kind == "no_show_barred":
            until = float(event.get("reason", "").partition(":")[2] or 0)
            hospital = self.hospital(hospital_id) or _hospitals(self.catalog)[0]
            extra["until"] = self.day_label(
                dt.datetime.fromtimestamp(until, hospital.tz).date(), lang)
        return self.text(kind, lang, hospital_id, tcode=event["tcode"],
                         reason=event.get("reason", ""), **fields, **extra, **more)

