"""Day-of-week x hour-of-day activity matrix in a time zone (events or unique users)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, distinct, func, select, union_all

from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.filters import ActivityFilter
from growthkit.core.params import check_choice, resolve_range, resolve_zone
from growthkit.core.results import Result, result
from growthkit.core.rollups import (
    QUARTER_MS,
    _user_columns,
    count_rows,
    rolled_until,
    rollup_usable,
    source_of,
    span,
    unrolled,
    user_rows,
)
from growthkit.core.schema import activities, presence_hour_steps
from growthkit.core.timezones import (
    DAY_MS,
    EPOCH_WEEKDAY_SHIFT,
    HOUR_MS,
    day_of_week_expr,
    hour_of_day_expr,
    offsets,
)
from growthkit.core.weekly_presence import WEEK_MS, quarters_of, window

METRICS = ("events", "users")
DEFAULT_RANGE_MS = 28 * DAY_MS


@dataclass
class HeatmapQuery:
    """GET /analytics/heatmap: filter, zone, metric (events or users) and `now`, the end of
    the default range (None: the wall clock)."""

    filter: ActivityFilter = field(default_factory=ActivityFilter)
    tz: str | None = None
    metric: str = "events"
    now: int | None = None


@result
class Heatmap(Result):
    """The /analytics/heatmap answer: 7 rows (Monday first) of 24 local hours."""

    time_zone: str
    metric: str
    from_: str
    to: str
    matrix: list[list[int]]
    total: int | None
    source: str
    complete: bool
    rolled_up_before: str | None


def _matrix(rows) -> list[list[int]]:  # noqa: ANN001
    matrix = [[0] * 24 for _ in range(7)]
    for d, h, n in rows:
        matrix[int(d)][int(h)] += int(n)
    return matrix


def _cell(ms: int, offset: int) -> tuple[int, int]:
    """(weekday, hour) of an instant at a fixed UTC offset (0 = Monday)."""
    local = ms + offset
    return (local // DAY_MS + EPOCH_WEEKDAY_SHIFT) % 7, local % DAY_MS // HOUR_MS


def weekly_users(conn: Connection, flt: ActivityFilter, tz: ZoneInfo) -> list[list[int]] | None:
    """Distinct leads per cell from the weekly presence (growthkit/core/weekly_presence.py)
    when the zone keeps one offset, a multiple of 15 minutes, over the range; else None.

    Whole hour windows come from the steps; leads in the partial windows at the edges and
    in rows not rolled up yet add one to their cell unless the stored quarters show them
    in a whole window of the same hour of the week.
    """
    segs = offsets(tz, flt.start, flt.end)
    if not rollup_usable(flt) or flt.event_names or len(segs) != 1 or segs[0][1] % QUARTER_MS:
        return None
    offset = segs[0][1]
    shift = -offset % HOUR_MS
    lo = window(flt.start + HOUR_MS - 1, shift)
    hi = window(flt.end, shift)
    if lo >= hi:
        return None
    s = presence_hour_steps.c
    cells = [(_cell(int(w), offset), int(n)) for w, n in conn.execute(
        select(s.bucket, func.sum(s.present)).where(
            s.app_id == flt.app_id, s.shift == shift, s.bucket >= lo, s.bucket < hi,
            s.prev_bucket < lo).group_by(s.bucket))]
    c = activities.c
    edge_rows = [select(c.fingerprint_id, c.timestamp).where(replace(flt, end=lo).where()),
                 select(c.fingerprint_id, c.timestamp).where(replace(flt, start=hi).where())]
    tail = unrolled(conn, flt, lo, hi, _user_columns).subquery()
    edge_rows.append(select(tail.c.fingerprint_id, tail.c.ts))
    edges = {(fp, window(int(ts), shift) % WEEK_MS)
             for fp, ts in conn.execute(union_all(*edge_rows))}
    stored = quarters_of(conn, flt.app_id, {fp for fp, _ in edges}, lo, hi)
    for fp, hour_of_week in edges:
        if all(window(q, shift) % WEEK_MS != hour_of_week for q in stored.get(fp, ())):
            cells.append((_cell(hour_of_week, offset), 1))
    return _matrix((d, h, n) for (d, h), n in cells)


def heatmap(conn: Connection, flt: ActivityFilter, tz: ZoneInfo,
            metric: str = "events") -> list[list[int]]:
    """7 rows (Monday first) of 24 local hours: events, or distinct fingerprints per cell.

    `flt.start`/`flt.end` may be None: the matrix then covers all stored history. Events
    come from the count rollups, users from the weekly presence (`weekly_users`) or the
    presence rollup, each plus raw rows; users are not known before the retention cut.
    """
    check_choice(metric, METRICS, "metric")
    bounds = span(conn, flt)
    if bounds is None or bounds[0] >= bounds[1]:
        return _matrix([])
    flt = replace(flt, start=bounds[0], end=bounds[1])
    if metric == "users":
        fast = weekly_users(conn, flt, tz)
        if fast is not None:
            return fast
        users = user_rows(conn, flt, tz)
        dow = day_of_week_expr(users.c.ts, tz, *bounds).label("dow")
        hour = hour_of_day_expr(users.c.ts, tz, *bounds).label("hour")
        value = func.count(distinct(users.c.fingerprint_id))
        return _matrix(conn.execute(select(dow, hour, value).group_by(dow, hour)))
    rows = count_rows(conn, flt, tz).rows
    dow = day_of_week_expr(rows.c.ts, tz, *bounds).label("dow")
    hour = hour_of_day_expr(rows.c.ts, tz, *bounds).label("hour")
    return _matrix(conn.execute(select(dow, hour, func.sum(rows.c.n)).group_by(dow, hour)))


def heatmap_report(conn: Connection, app: App, query: HeatmapQuery) -> Heatmap:
    """GET /analytics/heatmap: the matrix over the range (default: DEFAULT_RANGE_MS up to
    `now`) in the query's or app's zone, and where the numbers came from.

    `complete` is false when part of the range lies before the retention cut and the
    aggregates cannot answer it (unique users per cell, or lead/session/property filters).
    """
    metric = check_choice(query.metric, METRICS, "metric")
    tz = resolve_zone(query.tz, app.setting("timeZone"))
    start, end = resolve_range(query.filter.start, query.filter.end, DEFAULT_RANGE_MS,
                               query.now)
    flt = replace(query.filter.scoped(app.id), start=start, end=end)
    matrix = heatmap(conn, flt, tz, metric)
    rolled = rolled_until(conn, flt.app_id)
    source = source_of(start, end, rolled)
    complete = source == "events" or (metric == "events" and rollup_usable(flt))
    return Heatmap(time_zone=tz.key, metric=metric, from_=to_iso(start), to=to_iso(end),
                   matrix=matrix, total=sum(map(sum, matrix)) if metric == "events" else None,
                   source=source, complete=complete,
                   rolled_up_before=to_iso(rolled) if source != "events" else None)
