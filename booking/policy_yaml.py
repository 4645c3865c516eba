"""The policy keys of ``config/hospital.yaml`` (``hospital:`` keys and ``limits:``), parsed with
the catalog's line-aware helpers so every mistake names ``file:line``."""

from __future__ import annotations

from typing import Any

import yaml

from booking.policy import PAYMENT_MODES, Limits, Policy
from booking.yaml_source import YamlSource

_POLICY_TIMES = ("release_time", "booking_cutoff", "cancel_deadline")
_POLICY_INTS = {
    "hold_minutes": (1, 1440),
    "fallback_minutes": (0, 1440),
    "checkin_early_minutes": (0, 720),
    "checkin_late_minutes": (0, 720),
    "noshow_grace_minutes": (0, 1440),
    "kiosk_failures_per_minute": (1, 10000),
    "kiosk_failures_per_address_per_minute": (1, 10000),
    "kiosk_failures_per_hospital_per_minute": (1, 100000),
}
POLICY_KEYS = {"payment", "reserve_share", "return_delay_minutes", "checkin_window"}
POLICY_KEYS |= {*_POLICY_TIMES, *_POLICY_INTS}
_LIMIT_KEYS = set(Limits.__dataclass_fields__)


def parse_policy(src: YamlSource, h: dict[str, yaml.Node], limits: yaml.Node | None) -> Policy:
    """The hospital's policy keys (defaults from booking.policy) and the ``limits`` section."""
    values: dict[str, Any] = {}
    if "payment" in h:
        mode = src.text(h["payment"], "hospital.payment")
        if mode not in PAYMENT_MODES:
            raise src.fail(h["payment"], f"hospital.payment must be one of {PAYMENT_MODES}")
        values["payment"] = mode
    for key in _POLICY_TIMES:
        if key in h:
            values[key] = src.hhmm(h[key], f"hospital.{key}")
    for key, (low, high) in _POLICY_INTS.items():
        if key in h:
            values[key] = src.integer(h[key], f"hospital.{key}", low, high)
    if "checkin_window" in h:
        flag = src.scalar(h["checkin_window"], "hospital.checkin_window")
        if not isinstance(flag, bool):
            raise src.fail(h["checkin_window"], "hospital.checkin_window must be true or false")
        values["checkin_window"] = flag
    if "reserve_share" in h:
        values["reserve_share"] = src.share(h["reserve_share"], "hospital.reserve_share")
    if "return_delay_minutes" in h:
        node = h["return_delay_minutes"]
        pair = node.value if isinstance(node, yaml.SequenceNode) else []
        if len(pair) != 2:
            raise src.fail(node, "hospital.return_delay_minutes must be [min, max]")
        low = src.integer(pair[0], "return_delay_minutes[0]", 0, 10080)
        high = src.integer(pair[1], "return_delay_minutes[1]", low, 10080)
        values["return_delay_minutes"] = (low, high)
    if limits is not None:
        f = src.mapping(limits, "limits")
        src.unknown(f, _LIMIT_KEYS, "limits")
        lim = {k: src.integer(v, f"limits.{k}", 0, 100000) for k, v in f.items()}
        values["limits"] = Limits(**lim)
    return Policy(**values)
