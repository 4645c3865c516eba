"""The live dashboard's figures and charts, as plain functions of what booking reports.

``sessions`` joins a day's ``fill`` rows (places left per bucket) with that day's bookings
(``day_bookings``: status and channel of each) into one row per department and session; the
charts are SVG drawn here, on the server, so the page needs no script library and shows the
same picture without JavaScript (the script only fetches the figures again).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

REMOTE = ("ivr", "ussd", "sms", "web", "terminal")  # the channels that take remote places
CHANNELS = (*REMOTE, "other")  # what the table counts; the kiosk, the desk and the like: other
COLOURS = {"taken": "#1f6f43", "held": "#d9a400", "free": "#cfe8d8", "onsite": "#7a8ca3",
           "ivr": "#2b5f9e", "ussd": "#1f6f43"}


def sessions(fill: Iterable[Mapping[str, Any]],
             bookings: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """One row per department-session of a day: remote places taken, held, free; on-site
    places left (with the reserve); bookings by channel; checked in; no-shows."""
    by_session: dict[tuple[str, str], list[Mapping[str, str]]] = {}
    for b in bookings:
        by_session.setdefault((b.get("dept", ""), b.get("session", "")), []).append(b)
    rows = []
    for f in fill:
        mine = by_session.get((f["dept"], f["session"]), [])
        status = Counter(b.get("status", "") for b in mine)
        taking = [b for b in mine if b.get("status") in ("confirmed", "checked_in", "no_show",
                                                          "held")]
        channels = Counter(b.get("channel") if b.get("channel") in REMOTE else "other"
                           for b in taking)
        remote = [b for b in taking if b.get("channel") in REMOTE]
        held = sum(1 for b in remote if b.get("status") == "held")
        rows.append({
            "dept": f["dept"], "session": f["session"], "day": f["day"],
            "places": int(f["places"]), "closed": bool(f.get("closed")),
            "remote_quota": int(f["remote_quota"]),
            "remote_taken": len(remote) - held, "remote_held": held,
            "remote_free": int(f["remote_left"]),
            "onsite_left": int(f["onsite_left"]) + int(f.get("reserve_left", 0)),
            "channels": {c: channels.get(c, 0) for c in CHANNELS},
            "checked_in": status.get("checked_in", 0), "no_show": status.get("no_show", 0),
        })  # fmt: skip
    return rows


def totals(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The day's sums of ``sessions`` rows."""
    keys = ("places", "remote_quota", "remote_taken", "remote_held", "remote_free",
            "onsite_left", "checked_in", "no_show")
    out: dict[str, Any] = {k: sum(int(r[k]) for r in rows) for k in keys}
    out["channels"] = {c: sum(r["channels"][c] for r in rows) for c in CHANNELS}
    return out


def fill_bar(row: Mapping[str, Any], label: str, width: int = 160, height: int = 14) -> str:
    """A bar of the session's remote places: taken, held, free; then on-site places left."""
    parts = [("taken", row["remote_taken"]), ("held", row["remote_held"]),
             ("free", row["remote_free"]), ("onsite", row["onsite_left"])]
    total = sum(v for _, v in parts) or 1
    x = 0.0
    rects = []
    for name, value in parts:
        w = width * value / total
        if w > 0:
            rects.append(f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
                         f'fill="{COLOURS[name]}"><title>{name} {value}</title></rect>')
        x += w
    return (f'<svg class="bar" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label, {chr(34): "&quot;"})}">{"".join(rects)}</svg>')


def sparkline(series: Mapping[str, Sequence[int]], label: str, width: int = 300,
              height: int = 60) -> str:
    """Lines of per-minute counts (one per channel), the newest minute at the right."""
    top = max([1, *(v for values in series.values() for v in values)])
    lines = []
    for name, values in series.items():
        if not values:
            continue
        step = width / max(1, len(values) - 1)
        points = " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}"
                          for i, v in enumerate(values))
        lines.append(f'<polyline fill="none" stroke="{COLOURS.get(name, "#444")}" '
                     f'stroke-width="2" points="{points}"><title>{name}</title></polyline>')
    return (f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(label, {chr(34): "&quot;"})}">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f6f7f9"/>'
            f'{"".join(lines)}</svg>')
