"""Showing API times to people: ISO-8601 UTC to the viewer's zone, durations and gaps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC
# Qt's display format for date fields: ISO order, never the locale's ambiguous "1 11 2026".
DATE_FORMAT = "yyyy-MM-dd"


def parse(iso: str | None) -> dt.datetime | None:
    if not iso:
        return None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00"))


def local(iso: str | None, tz: ZoneInfo | None = None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An API time in `tz` (default: this computer's zone), formatted."""
    when = parse(iso)
    if when is None:
        return ""
    return (when.astimezone(tz) if tz else when.astimezone()).strftime(fmt)


def epoch_seconds(iso: str) -> float:
    when = parse(iso)
    assert when is not None
    return when.timestamp()


def zone_name(tz: ZoneInfo | None) -> str:
    if tz is not None:
        return tz.key
    return dt.datetime.now().astimezone().tzname() or "local time"


def duration(seconds: float | None) -> str:
    """28 s, 5 min, 2 h 10 min, 3 days: the coarsest units that still say it."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, rest = divmod(s, 60)
        return f"{m} min {rest} s" if rest and m < 10 else f"{m} min"
    if s < 86_400:
        h, rest = divmod(s, 3600)
        m = rest // 60
        return f"{h} h {m} min" if m else f"{h} h"
    days = s // 86_400
    return "1 day" if days == 1 else f"{days} days"


def gap_label(seconds: float) -> str:
    """The indicator shown between two timeline items: "— 28 s —", "— 3 days —"."""
    return f"— {duration(seconds)} —"
