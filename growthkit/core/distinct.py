"""Exact distinct users and sessions over a long range without a distinct over its rows.

A range [start, end) splits into the whole UTC days [d1, d2) inside it and the partial days
at its edges. The whole days are counted from the daily presence steps (growthkit/core/
presence.py: one sum over a few thousand rows). The edges — from the hourly presence
rollup and raw rows — and the rows not rolled up yet are a day or two of keys at most;
each of them adds one when it is absent from the whole days (an index probe of
presence_days). The partial day at the end counts as a whole day when nothing rolled up on
it lies past the range's end (the usual "until now"): only the start edge is then probed.
Ranges shorter than a whole day keep the plain count (`None`).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import ColumnElement, Connection, exists, func, select, union_all

from growthkit.core.filters import ActivityFilter
from growthkit.core.presence import ALL, SESSIONS, USERS
from growthkit.core.rollups import (
    _user_columns,
    ceil_to,
    closed,
    floor_to,
    rollup_usable,
    unrolled,
    user_rows,
    watermark,
)
from growthkit.core.schema import activities, presence_days, presence_steps
from growthkit.core.timezones import DAY_MS


def presence_usable(flt: ActivityFilter) -> bool:
    """The daily presence knows app, one event name (or none) and time."""
    return rollup_usable(flt) and len(flt.event_names) <= 1


def distinct_users_sessions(conn: Connection, flt: ActivityFilter) -> tuple[int, int] | None:
    """(distinct fingerprints, distinct sessions) of the stored events in the filter's
    closed range; None when the daily presence cannot answer (see module docstring)."""
    closed(flt)
    if not presence_usable(flt):
        return None
    d1, d2 = ceil_to(flt.start, DAY_MS), floor_to(flt.end, DAY_MS)
    if d1 >= d2:
        return None
    # The partial day at the end (today, for "the last N days") is usually the biggest edge:
    # when nothing rolled up on that day lies past the range's end, the day's own presence
    # rows stand in for it, and only its rows above the watermark join the edges.
    days_end = d2 + DAY_MS if d2 < flt.end and not _rolled_past(conn, flt, d2 + DAY_MS) else d2
    name = flt.event_names[0] if flt.event_names else ALL
    s = presence_steps.c
    whole = dict(conn.execute(
        select(s.kind, func.sum(s.present)).where(
            s.app_id == flt.app_id, s.kind.in_([USERS, SESSIONS]), s.event_name == name,
            s.day >= d1, s.day < days_end, s.prev_day < d1).group_by(s.kind)).all())
    parts = []
    for lo, hi in ((flt.start, d1), (days_end, flt.end)):
        if lo < hi:
            rows = user_rows(conn, replace(flt, start=lo, end=hi))
            parts.append(select(rows.c.ts, rows.c.fingerprint_id, rows.c.session_id))
    parts.append(unrolled(conn, flt, d1, min(days_end, flt.end), _user_columns))
    edges = union_all(*parts).cte("edges")
    p = presence_days.c

    def absent(kind: str, column) -> ColumnElement:  # noqa: ANN001
        """How many distinct values of the edges' `column` have no whole day present."""
        keys = select(column.label("k")).distinct().subquery()
        return select(func.count()).select_from(keys).where(~exists().where(
            p.app_id == flt.app_id, p.kind == kind, p.key == keys.c.k, p.event_name == name,
            p.day >= d1, p.day < days_end)).scalar_subquery()

    more_users, more_sessions = conn.execute(select(
        absent(USERS, edges.c.fingerprint_id), absent(SESSIONS, edges.c.session_id))).one()
    return (int(whole.get(USERS) or 0) + int(more_users or 0),
            int(whole.get(SESSIONS) or 0) + int(more_sessions or 0))


def _rolled_past(conn: Connection, flt: ActivityFilter, day_end: int) -> bool:
    """Whether a rolled-up event of the filter lies in [end, day_end): then the end day's
    presence holds keys from outside the range (clocks ahead, for instance)."""
    c = activities.c
    later = replace(flt, start=flt.end, end=day_end)
    return conn.execute(select(exists().where(later.where(), c.seq <= watermark(conn)))
                        ).scalar_one()
