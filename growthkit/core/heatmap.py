"""Day-of-week x hour-of-day activity matrix in a time zone (events or unique users)."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, distinct, func, select

from growthkit.core.clock import to_iso
from growthkit.core.filters import ActivityFilter
from growthkit.core.rollups import (
    count_rows,
    rolled_until,
    rollup_usable,
    source_of,
    span,
    user_rows,
)
from growthkit.core.timezones import day_of_week_expr, hour_of_day_expr

METRICS = ("events", "users")


def _matrix(rows) -> list[list[int]]:  # noqa: ANN001
    matrix = [[0] * 24 for _ in range(7)]
    for d, h, n in rows:
        matrix[int(d)][int(h)] += int(n)
    return matrix


def heatmap(conn: Connection, flt: ActivityFilter, tz: ZoneInfo,
            metric: str = "events") -> list[list[int]]:
    """7 rows (Monday first) of 24 local hours: events, or distinct fingerprints per cell.

    `flt.start`/`flt.end` may be None: the matrix then covers all stored history. Events
    come from the count rollups, users from the presence rollup, each plus raw rows; users
    are not known before the retention cut.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    bounds = span(conn, flt)
    if bounds is None or bounds[0] >= bounds[1]:
        return _matrix([])
    flt = replace(flt, start=bounds[0], end=bounds[1])
    if metric == "users":
        users = user_rows(conn, flt, tz)
        dow = day_of_week_expr(users.c.ts, tz, *bounds).label("dow")
        hour = hour_of_day_expr(users.c.ts, tz, *bounds).label("hour")
        value = func.count(distinct(users.c.fingerprint_id))
        return _matrix(conn.execute(select(dow, hour, value).group_by(dow, hour)))
    rows = count_rows(conn, flt, tz).rows
    dow = day_of_week_expr(rows.c.ts, tz, *bounds).label("dow")
    hour = hour_of_day_expr(rows.c.ts, tz, *bounds).label("hour")
    return _matrix(conn.execute(select(dow, hour, func.sum(rows.c.n)).group_by(dow, hour)))


def heatmap_report(conn: Connection, flt: ActivityFilter, tz: ZoneInfo,
                   metric: str = "events") -> dict:
    """The API answer: the matrix, the zone, and where the numbers came from.

    `complete` is false when part of the range lies before the retention cut and the
    aggregates cannot answer it (unique users per cell, or lead/session/property filters).
    """
    matrix = heatmap(conn, flt, tz, metric)
    assert flt.start is not None and flt.end is not None
    rolled = rolled_until(conn, flt.app_id)
    source = source_of(flt.start, flt.end, rolled)
    complete = source == "events" or (metric == "events" and rollup_usable(flt))
    return {"timeZone": tz.key, "metric": metric, "from": to_iso(flt.start),
            "to": to_iso(flt.end), "matrix": matrix,
            "total": sum(map(sum, matrix)) if metric == "events" else None,
            "source": source, "complete": complete,
            "rolledUpBefore": to_iso(rolled) if source != "events" else None}
