"""Day-of-week x hour-of-day activity matrix in a time zone (events or unique users)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import Connection, distinct, func, select

from growthkit.core.filters import ActivityFilter
from growthkit.core.schema import activities
from growthkit.core.timezones import day_of_week_expr, hour_of_day_expr

METRICS = ("events", "users")


def _span(conn: Connection, flt: ActivityFilter) -> tuple[int, int] | None:
    """The filter's time range; open ends are closed on the stored rows (None: no rows)."""
    if flt.start is not None and flt.end is not None:
        return flt.start, flt.end
    lo, hi = conn.execute(select(func.min(activities.c.timestamp),
                                 func.max(activities.c.timestamp))
                          .where(flt.where())).one()
    if lo is None:
        return None
    return (flt.start if flt.start is not None else lo,
            flt.end if flt.end is not None else hi + 1)


def heatmap(conn: Connection, flt: ActivityFilter, tz: ZoneInfo,
            metric: str = "events") -> list[list[int]]:
    """7 rows (Monday first) of 24 local hours: events, or distinct fingerprints per cell.

    `flt.start`/`flt.end` may be None: the matrix then covers all stored history.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    matrix = [[0] * 24 for _ in range(7)]
    span = _span(conn, flt)
    if span is None or span[0] >= span[1]:
        return matrix
    ts = activities.c.timestamp
    dow = day_of_week_expr(ts, tz, *span).label("dow")
    hour = hour_of_day_expr(ts, tz, *span).label("hour")
    value = (func.count() if metric == "events"
             else func.count(distinct(activities.c.fingerprint_id)))
    rows = conn.execute(select(dow, hour, value).where(flt.where()).group_by(dow, hour))
    for d, h, n in rows:
        matrix[int(d)][int(h)] = int(n)
    return matrix
