"""Quick stats for a time range: events, events per hour, unique users, sessions and top
events, each against the previous period of the same length.

Event counts come from the rollups plus raw rows (`rollups.count_rows`), distinct users and
sessions from the daily presence (`distinct.distinct_users_sessions`) for ranges holding a
whole UTC day, else from the hourly presence rollup plus raw rows (`rollups.user_rows`); for days
retention has rolled up they are the sum of the days' distinct counts from `daily_rollups`
(exact for one day, an upper bound over several).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, distinct, func, select

from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.distinct import distinct_users_sessions
from growthkit.core.filters import ActivityFilter
from growthkit.core.frequency import change_pct, previous_period, rank, time_series
from growthkit.core.params import check_limit, resolve_range, resolve_zone
from growthkit.core.results import Result, result
from growthkit.core.retention import ALL_EVENTS
from growthkit.core.rollups import (
    count_rows,
    rolled_until,
    rollup_usable,
    source_of,
    user_rows,
)
from growthkit.core.schema import daily_rollups
from growthkit.core.timezones import DAY_MS, HOUR_MS

# Series resolution: hourly up to a week, daily beyond (a few hundred points at most).
HOURLY_SERIES_UP_TO_MS = 7 * DAY_MS
DEFAULT_RANGE_MS = DAY_MS
MAX_TOP = 100


@dataclass
class StatsQuery:
    """GET /stats: activity filter (open ends take the defaults), zone, top-event count and
    `now`, the end of the default range (None: the wall clock)."""

    filter: ActivityFilter = field(default_factory=ActivityFilter)
    tz: str | None = None
    top: int = 10
    now: int | None = None


@result
class PeriodStats(Result):
    from_: str
    to: str
    events: int
    unique_users: int
    sessions: int
    events_per_hour: float


@result
class TopEvent(Result):
    event_name: str
    count: int
    previous_count: int
    change: float | None


@result
class SeriesPoint(Result):
    start: str
    events: int


@result
class Series(Result):
    interval: str
    points: list[SeriesPoint]


@result
class Stats(PeriodStats):
    """The /stats answer."""

    events_last_hour: int
    series: Series
    top_events: list[TopEvent]
    previous: PeriodStats
    change: dict[str, float | None]
    time_zone: str
    source: str
    previous_source: str
    rolled_up_before: str | None


def distinct_counts(conn: Connection, flt: ActivityFilter) -> tuple[int, int]:
    """(unique users, sessions) for the filter; rolled-up days add their daily counts."""
    fast = distinct_users_sessions(conn, flt)
    if fast is None:
        rows = user_rows(conn, flt)
        fast = conn.execute(select(func.count(distinct(rows.c.fingerprint_id)),
                                   func.count(distinct(rows.c.session_id)))).one()
    users, sessions = int(fast[0] or 0), int(fast[1] or 0)
    rolled = rolled_until(conn, flt.app_id)
    if flt.start is not None and flt.end is not None and rolled > flt.start and rollup_usable(flt):
        d = daily_rollups.c
        names = d.event_name.in_(flt.event_names) if flt.event_names else \
            d.event_name == ALL_EVENTS
        old_users, old_sessions = conn.execute(
            select(func.coalesce(func.sum(d.users), 0), func.coalesce(func.sum(d.sessions), 0))
            .where(d.app_id == flt.app_id, d.day >= flt.start - flt.start % DAY_MS,
                   d.day < min(flt.end, rolled), names)).one()
        users += int(old_users)
        sessions += int(old_sessions)
    return users, sessions


def _period(conn: Connection, flt: ActivityFilter) -> dict:
    """The figures of one closed period (flt.start and flt.end set)."""
    rows = count_rows(conn, flt).rows
    by_name = {n: int(k) for n, k in conn.execute(
        select(rows.c.event_name, func.sum(rows.c.n)).group_by(rows.c.event_name))}
    users, sessions = distinct_counts(conn, flt)
    events = sum(by_name.values())
    hours = (flt.end - flt.start) / HOUR_MS
    return {"from": to_iso(flt.start), "to": to_iso(flt.end), "events": events,
            "uniqueUsers": users, "sessions": sessions,
            "eventsPerHour": round(events / hours, 2) if hours else 0.0, "byName": by_name}


def quick_stats(conn: Connection, app: App, query: StatsQuery) -> Stats:
    """GET /stats: the range (default: the DEFAULT_RANGE_MS up to `now`) against the
    previous period of the same length, series bucketed in the query's or app's zone."""
    top = check_limit(query.top, MAX_TOP, "top")
    tz = resolve_zone(query.tz, app.setting("timeZone"))
    start, end = resolve_range(query.filter.start, query.filter.end, DEFAULT_RANGE_MS,
                               query.now)
    flt = replace(query.filter.scoped(app.id), start=start, end=end)
    cur = _period(conn, flt)
    prev = _period(conn, previous_period(flt))
    by_name, prev_by_name = cur.pop("byName"), prev.pop("byName")
    interval = "hour" if flt.end - flt.start <= HOURLY_SERIES_UP_TO_MS else "day"
    starts, per_name, _ = time_series(conn, flt, tz, interval)
    totals = [sum(col) for col in zip(*per_name.values(), strict=True)] if per_name else \
        [0] * len(starts)
    last_hour = replace(flt, start=max(flt.start, flt.end - HOUR_MS))
    rows = count_rows(conn, last_hour).rows
    events_last_hour = int(conn.execute(select(func.coalesce(func.sum(rows.c.n), 0))).scalar())
    top_events = [{**e, "previousCount": prev_by_name.get(e["eventName"], 0),
                   "change": change_pct(e["count"], prev_by_name.get(e["eventName"], 0))}
                  for e in rank(by_name, top)]
    rolled = rolled_until(conn, flt.app_id)
    length = flt.end - flt.start
    keys = ("events", "uniqueUsers", "sessions")
    return Stats.from_json({
        **cur,
        "eventsLastHour": events_last_hour,
        "series": {"interval": interval,
                   "points": [{"start": to_iso(ms), "events": n}
                              for ms, n in zip(starts, totals, strict=True)]},
        "topEvents": top_events,
        "previous": prev,
        # Both periods have the same length: events per hour change as events do.
        "change": {**{k: change_pct(cur[k], prev[k]) for k in keys},
                   "eventsPerHour": change_pct(cur["events"], prev["events"])},
        "timeZone": tz.key,
        "source": source_of(flt.start, flt.end, rolled),
        "previousSource": source_of(flt.start - length, flt.start, rolled),
        "rolledUpBefore": to_iso(rolled) if rolled > flt.start - length else None,
    })
