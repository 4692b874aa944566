"""How the console writes numbers, changes and times: 1.7K, ▲ 12.5%, local bucket times."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def short_number(value: float) -> str:
    """1234 -> '1.2K', 1_700_000 -> '1.7M'; below 1000 as is (one decimal for fractions)."""
    n = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= limit:
            scaled = value / limit
            text = f"{scaled:.1f}" if abs(scaled) < 100 else f"{scaled:.0f}"
            return text.removesuffix(".0") + suffix
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.1f}"
    return f"{int(value)}"


def full_number(value: float) -> str:
    """Thousands separated; fractions with one decimal (events per hour)."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def counted(n: int, noun: str) -> str:
    """`1 lead`, `1,204 leads` (the plural is the noun plus s)."""
    return f"{full_number(n)} {noun}{'' if n == 1 else 's'}"


def change_text(change: float | None, previous: float | None = None) -> str:
    """'▲ 12.5%', '▼ 3%', '= 0%'; no change figure (the previous period was 0): 'new' when
    there is something now, else '–'."""
    if change is None:
        return "new" if previous == 0 else "–"
    if abs(change) < 0.05:
        return "= 0%"
    arrow = "▲" if change > 0 else "▼"
    digits = f"{abs(change):.1f}" if abs(change) < 100 else f"{abs(change):,.0f}"
    return f"{arrow} {digits.removesuffix('.0')}%"


def parse_instant(text: str) -> dt.datetime:
    """An ISO-8601 UTC instant of the API ('…Z') as an aware datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def epoch_seconds(text: str) -> float:
    return parse_instant(text).timestamp()


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(text: str, tz: str | None, fmt: str = "%a %d %b %H:%M") -> str:
    """An API instant as wall-clock time in the answer's zone."""
    return parse_instant(text).astimezone(zone(tz)).strftime(fmt)


def span_text(start: str, end: str, tz: str | None) -> str:
    """'30 Nov 08:00 – 1 Dec 08:00 (Europe/Berlin)'."""
    a, b = parse_instant(start).astimezone(zone(tz)), parse_instant(end).astimezone(zone(tz))
    fmt = "%-d %b %H:%M" if a.year == b.year else "%-d %b %Y %H:%M"
    return f"{a.strftime(fmt)} – {b.strftime(fmt)} ({tz or 'UTC'})"


def source_note(source: str | None, rolled_up_before: str | None, tz: str | None) -> str:
    """What the numbers are read from (stored events, rollups kept past retention, or both)."""
    if source == "rollup":
        return "from rollups (the range lies before the retention cut)"
    if source == "partial" and rolled_up_before:
        return f"before {local_time(rolled_up_before, tz, '%-d %b %Y')} from rollups"
    return "from stored events"
