"""Event frequency: counts per event name, the popular-events ranking with its change against
the previous period, and time series bucketed by local hour/day/week.

Counts come from `rollups.count_rows` (15-minute rollups plus raw rows), so they stay fast
at scale and keep working over periods whose events retention has deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter
from growthkit.core.params import check_choice, check_limit, resolve_range, resolve_zone
from growthkit.core.results import Result, result
from growthkit.core.rollups import count_rows, span
from growthkit.core.timezones import DAY_MS, EPOCH_WEEKDAY_SHIFT, UNITS, bucket_expr, bucket_start

INTERVALS = tuple(UNITS)
MAX_BUCKETS = 10_000
MAX_SERIES = 100
YEAR_1_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z: the earliest time an answer can name
DEFAULT_RANGE_MS = 7 * DAY_MS


@dataclass
class FrequencyQuery:
    """GET /analytics/events: filter, zone, bucket interval, how many names get a series,
    and `now`, the end of the default range (None: the wall clock)."""

    filter: ActivityFilter = field(default_factory=ActivityFilter)
    tz: str | None = None
    interval: str = "day"
    limit: int = 10
    now: int | None = None


@result
class EventRank(Result):
    event_name: str
    count: int
    rank: int
    share: float
    previous_count: int
    previous_rank: int | None
    change: float | None


@result
class NameSeries(Result):
    event_name: str
    counts: list[int]


@result
class EventFrequency(Result):
    """The /analytics/events answer."""

    from_: str
    to: str
    time_zone: str
    interval: str
    total: int
    previous_total: int
    change: float | None
    events: list[EventRank]
    buckets: list[str]
    totals: list[int]
    series: list[NameSeries]
    source: str


def counts_by_name(conn: Connection, flt: ActivityFilter) -> dict[str, int]:
    """{eventName: count} for the filter (open start/end: all stored history)."""
    bounds = span(conn, flt)
    if bounds is None or bounds[0] >= bounds[1]:
        return {}
    closed = replace(flt, start=bounds[0], end=bounds[1])
    rows = count_rows(conn, closed).rows
    result = conn.execute(select(rows.c.event_name, func.sum(rows.c.n))
                          .group_by(rows.c.event_name))
    return {n: int(c) for n, c in result}


def rank(counts: dict[str, int], limit: int | None = None) -> list[dict]:
    """[{"eventName", "count"}], most frequent first (ties by name)."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"eventName": n, "count": c} for n, c in ranked[:limit]]


def top_events(conn: Connection, flt: ActivityFilter, limit: int = 10) -> list[dict]:
    """[{"eventName", "count"}] most frequent first."""
    return rank(counts_by_name(conn, flt), limit)


def change_pct(current: float, previous: float) -> float | None:
    """Percent change against the previous value (None when there was nothing before)."""
    if not previous:
        return None
    return round((current - previous) * 100.0 / previous, 1)


def previous_period(flt: ActivityFilter) -> ActivityFilter:
    """The same filter over the period of the same length just before."""
    if flt.start is None or flt.end is None:
        raise QueryError("from", "the previous period needs a range with from and to")
    length = flt.end - flt.start
    if flt.start - length < YEAR_1_MS:
        raise QueryError("from", "from: this range is too long to compare with the period of "
                                 "the same length before it (that would start before year "
                                 "1); use a shorter range")
    return replace(flt, start=flt.start - length, end=flt.start)


def _offset(ms: int, tz: ZoneInfo) -> int:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)
    return int(dt.utcoffset().total_seconds() * 1000)


def bucket_of(ms: int, unit: str, tz: ZoneInfo) -> int:
    """The same bucket number `timezones.bucket_expr` computes in SQL."""
    local = ms + _offset(ms, tz)
    if unit == "week":
        return (local // DAY_MS + EPOCH_WEEKDAY_SHIFT) // 7
    return local // UNITS[unit]


def buckets(start: int, end: int, unit: str, tz: ZoneInfo) -> list[tuple[int, int]]:
    """[(bucket number, UTC start ms)] of the local buckets that [start, end) touches.

    Buckets are local wall-clock hours/days/weeks (Monday first): at a DST fall-back the
    repeated hour is one bucket; an hour skipped at spring-forward has no bucket.
    """
    check_choice(unit, INTERVALS, "interval")
    if end <= start:
        return []
    first, last = bucket_of(start, unit, tz), bucket_of(end - 1, unit, tz)
    if last - first + 1 > MAX_BUCKETS:
        raise QueryError("interval", f"interval={unit} over this range gives "
                                     f"{last - first + 1} buckets; at most {MAX_BUCKETS}: use "
                                     "a wider interval or a shorter range")
    out = []
    for b in range(first, last + 1):
        local = bucket_start(b, unit, tz)
        utc = local.astimezone(UTC)
        if unit == "hour" and utc.astimezone(tz).replace(tzinfo=None) != local.replace(
                tzinfo=None):
            continue  # a wall-clock hour that does not exist (spring-forward)
        out.append((b, int(utc.timestamp() * 1000)))
    return out


def time_series(conn: Connection, flt: ActivityFilter, tz: ZoneInfo,
                interval: str) -> tuple[list[int], dict[str, list[int]], str]:
    """Bucket starts (UTC ms), {eventName: counts per bucket} and the data source."""
    if flt.start is None or flt.end is None:
        raise QueryError("from", "a time series needs a range with from and to")
    slots = buckets(flt.start, flt.end, interval, tz)
    index = {b: i for i, (b, _) in enumerate(slots)}
    counted = count_rows(conn, flt, tz)
    rows = counted.rows
    key = bucket_expr(rows.c.ts, interval, tz, flt.start, flt.end).label("b")
    series: dict[str, list[int]] = {}
    for b, name, n in conn.execute(select(key, rows.c.event_name, func.sum(rows.c.n))
                                   .group_by(key, rows.c.event_name)):
        i = index.get(int(b))
        if i is not None:
            series.setdefault(name, [0] * len(slots))[i] += int(n)
    return [ms for _, ms in slots], series, counted.source


def event_frequency(conn: Connection, app: App, query: FrequencyQuery) -> EventFrequency:
    """Counts per event name with rank and change, plus per-bucket series of the top names,
    over the range (default: DEFAULT_RANGE_MS up to `now`) in the query's or app's zone.

    The ranking lists every event name of the period (and those only seen in the previous
    period, with count 0); `series` holds the `limit` most frequent, `totals` all events.
    """
    interval = check_choice(query.interval, INTERVALS, "interval")
    limit = check_limit(query.limit, MAX_SERIES, "limit")
    tz = resolve_zone(query.tz, app.setting("timeZone"))
    start, end = resolve_range(query.filter.start, query.filter.end, DEFAULT_RANGE_MS,
                               query.now)
    flt = replace(query.filter.scoped(app.id), start=start, end=end)
    starts, per_name, source = time_series(conn, flt, tz, interval)
    current = {n: sum(v) for n, v in per_name.items()}
    previous = counts_by_name(conn, previous_period(flt))
    prev_rank = {r["eventName"]: i + 1 for i, r in enumerate(rank(previous))}
    names = set(current) | set(previous)
    ranked = sorted(names, key=lambda n: (-current.get(n, 0), -previous.get(n, 0), n))
    total, prev_total = sum(current.values()), sum(previous.values())
    events = [{"eventName": n, "count": current.get(n, 0), "rank": i + 1,
               "share": round(current.get(n, 0) / total, 4) if total else 0.0,
               "previousCount": previous.get(n, 0), "previousRank": prev_rank.get(n),
               "change": change_pct(current.get(n, 0), previous.get(n, 0))}
              for i, n in enumerate(ranked)]
    totals = [sum(col) for col in zip(*per_name.values(), strict=True)] if per_name else \
        [0] * len(starts)
    return EventFrequency.from_json({
        "from": to_iso(flt.start), "to": to_iso(flt.end), "timeZone": tz.key,
        "interval": interval, "total": total, "previousTotal": prev_total,
        "change": change_pct(total, prev_total), "events": events,
        "buckets": [to_iso(ms) for ms in starts], "totals": totals,
        "series": [{"eventName": n, "counts": per_name.get(n, [0] * len(starts))}
                   for n in ranked[:limit] if current.get(n, 0)],
        "source": source,
    })
