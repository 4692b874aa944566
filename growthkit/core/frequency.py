"""Event frequency: counts per event name, the popular-events ranking and time series."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from growthkit.core.filters import ActivityFilter
from growthkit.core.schema import activities


def counts_by_name(conn: Connection, flt: ActivityFilter) -> dict[str, int]:
    """{eventName: count} for the filter."""
    name = activities.c.event_name
    rows = conn.execute(select(name, func.count()).where(flt.where()).group_by(name))
    return {n: int(c) for n, c in rows}


def top_events(conn: Connection, flt: ActivityFilter, limit: int = 10) -> list[dict]:
    """[{"eventName", "count"}], most frequent first (ties by name)."""
    counts = counts_by_name(conn, flt)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"eventName": n, "count": c} for n, c in ranked]
