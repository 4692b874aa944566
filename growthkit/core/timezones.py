"""Local time in SQL, the same on SQLite and PostgreSQL, for any IANA zone.

A zone's UTC offset is constant between transitions (DST changes), so over a range it is a
short CASE on the timestamp; adding it to epoch ms and dividing by whole hours/days gives
local buckets with plain integer arithmetic. Works for DST and for +05:45 zones alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, case, literal

from growthkit.core.clock import now_ms

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
UNITS = {"hour": HOUR_MS, "day": DAY_MS, "week": WEEK_MS}
# 1970-01-01 was a Thursday: +3 days puts Monday at 0 (weeks start on Monday).
EPOCH_WEEKDAY_SHIFT = 3


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"tz {name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None


def _offset_ms(tz: ZoneInfo, ms: int) -> int:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)
    return int(dt.utcoffset().total_seconds() * 1000)


def offsets(tz: ZoneInfo, start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """[(from_ms, offset_ms), …]: the zone's offset from each instant until the next.

    No stored event lies more than an hour past the wall clock (ingest refuses those), so
    the walk stops a day past now and the last offset covers the rest of the range: a
    query `to=9999-12-31` costs what one ending today does.
    """
    end_ms = min(end_ms, max(start_ms, now_ms() + DAY_MS))
    segments = [(start_ms, _offset_ms(tz, start_ms))]
    step = DAY_MS
    t = start_ms
    while t < end_ms:
        nxt = min(t + step, end_ms)
        if _offset_ms(tz, nxt) != segments[-1][1]:
            # The change lies in (lo, hi]: narrow it to the millisecond, so `ts < change`
            # is exact (rollup buckets start right on a change).
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_ms(tz, mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi, _offset_ms(tz, hi)))
        t = nxt
    return segments


def offset_expr(ts: ColumnElement, tz: ZoneInfo, start_ms: int, end_ms: int) -> ColumnElement:
    """SQL for the zone's UTC offset (ms) at `ts`, valid for start_ms <= ts <= end_ms."""
    segs = offsets(tz, start_ms, end_ms)
    if len(segs) == 1:
        return literal(segs[0][1])
    whens = [(ts < segs[i + 1][0], segs[i][1]) for i in range(len(segs) - 1)]
    return case(*whens, else_=segs[-1][1])


def local_ms(ts: ColumnElement, tz: ZoneInfo, start_ms: int, end_ms: int) -> ColumnElement:
    """SQL: the timestamp as 'local epoch ms' (wall-clock time read as if it were UTC)."""
    return ts + offset_expr(ts, tz, start_ms, end_ms)


def bucket_expr(ts: ColumnElement, unit: str, tz: ZoneInfo, start_ms: int,
                end_ms: int) -> ColumnElement:
    """SQL: the local hour/day/week bucket number of `ts` (weeks start on Monday)."""
    local = local_ms(ts, tz, start_ms, end_ms)
    if unit == "week":
        return (local // DAY_MS + EPOCH_WEEKDAY_SHIFT) // 7
    return local // UNITS[unit]


def bucket_start(bucket: int, unit: str, tz: ZoneInfo) -> datetime:
    """The local start of a bucket number from `bucket_expr`, as an aware datetime."""
    local = (bucket * 7 - EPOCH_WEEKDAY_SHIFT) * DAY_MS if unit == "week" else bucket * UNITS[unit]
    naive = datetime(1970, 1, 1) + timedelta(milliseconds=local)
    return naive.replace(tzinfo=tz)


def hour_of_day_expr(ts: ColumnElement, tz: ZoneInfo, start_ms: int, end_ms: int):
    return (local_ms(ts, tz, start_ms, end_ms) // HOUR_MS) % 24


def day_of_week_expr(ts: ColumnElement, tz: ZoneInfo, start_ms: int, end_ms: int):
    """SQL: 0 = Monday … 6 = Sunday, local."""
    return (local_ms(ts, tz, start_ms, end_ms) // DAY_MS + EPOCH_WEEKDAY_SHIFT) % 7
