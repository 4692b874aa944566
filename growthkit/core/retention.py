"""Retention: events older than an app's retentionDays become daily aggregates, then go.

Whole UTC days before `floor(now - retentionDays)` are processed one day per transaction:
the day's events are added to `daily_rollups` (per event name and '*' for all events:
count, distinct users, distinct sessions), made sure to be counted in the hourly and
15-minute rollups, and deleted. `retention_state.rolled_until` then tells queries
that before it only aggregates remain. Ingest refuses events older than the retention
window, so a processed day never receives more events (if retentionDays is raised and
lowered again, a day's aggregates are added to, never replaced).

PostgreSQL (weekly partitions, core/partitions.py): a partition wholly before the cutoff
of every app with events in it is first rolled up the same way, day by day, in one
transaction that then empties it (TRUNCATE) instead of deleting rows; the empty table is
dropped right after. Days at the edge (a partition only partly expired, or kept longer by
another app) are still deleted row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    distinct,
    func,
    literal,
    select,
    update,
)

from growthkit.core.apps import App, get_app, list_apps
from growthkit.core.clock import now_ms, to_iso
from growthkit.core.lead_days import forget_day
from growthkit.core.partitions import (
    WINDOW_BACK_WEEKS,
    Partition,
    drop_partition,
    empty_partition,
    forget_ids,
    is_partitioned,
    list_partitions,
    rows_of,
    week_start,
)
from growthkit.core.presence import remove_days
from growthkit.core.rollups import (
    _lock_state,
    add_counts,
    lower_watermark,
    rolled_until,
)
from growthkit.core.schema import (
    activities,
    daily_rollups,
    leads,
    retention_state,
    rollup_presence,
    rollup_presence_15m,
)
from growthkit.core.store import insert, write_connection
from growthkit.core.timezones import DAY_MS, WEEK_MS
from growthkit.core.weekly_presence import remove_weekly_days

ALL_EVENTS = "*"  # not a valid event name, so it cannot clash with one


@dataclass
class AppRetention:
    """What one run did for one app."""

    app_id: str
    name: str
    retention_days: int
    cutoff: int
    days: int = 0
    events_rolled_up: int = 0
    events_deleted: int = 0
    partitions_dropped: int = 0  # PostgreSQL: weeks whose events went as a whole table
    first_day: int | None = None
    last_day: int | None = None

    def to_json(self) -> dict:
        return {"appId": self.app_id, "name": self.name, "retentionDays": self.retention_days,
                "cutoff": to_iso(self.cutoff), "days": self.days,
                "eventsRolledUp": self.events_rolled_up, "eventsDeleted": self.events_deleted,
                "partitionsDropped": self.partitions_dropped,
                "firstDay": to_iso(self.first_day), "lastDay": to_iso(self.last_day)}


def cutoff_for(app: App, now: int) -> int:
    """Start of the first UTC day that is kept: whole days only, so each day rolls once."""
    days = int(app.setting("retentionDays"))
    t = now - days * DAY_MS
    return t - t % DAY_MS


def _add_daily(conn: Connection, app_id: str, day: int) -> int:
    c = activities.c
    where = [c.app_id == app_id, c.timestamp >= day, c.timestamp < day + DAY_MS]
    values = (func.count().label("events"), func.count(distinct(c.fingerprint_id)).label("users"),
              func.count(distinct(c.session_id)).label("sessions"))
    rows = [dict(r._mapping) for r in conn.execute(
        select(c.event_name, *values).where(*where).group_by(c.event_name))]
    if not rows:
        return 0
    total = conn.execute(select(literal(ALL_EVENTS).label("event_name"), *values)
                         .where(*where)).one()
    rows.append(dict(total._mapping))
    for r in rows:
        r.update(app_id=app_id, day=day)
    stmt = insert(conn, daily_rollups)
    ex, d = stmt.excluded, daily_rollups.c
    stmt = stmt.on_conflict_do_update(
        index_elements=[d.app_id, d.day, d.event_name],
        set_={"events": d.events + ex.events, "users": d.users + ex.users,
              "sessions": d.sessions + ex.sessions})
    conn.execute(stmt, rows)
    return int(total.events)


def _mark(conn: Connection, app_id: str, until: int, now: int) -> None:
    stmt = insert(conn, retention_state).values(app_id=app_id, rolled_until=until, ran_at=now)
    rs = retention_state.c
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[rs.app_id],
        set_={"rolled_until": func.greatest(rs.rolled_until, stmt.excluded.rolled_until)
              if conn.dialect.name == "postgresql"
              else func.max(rs.rolled_until, stmt.excluded.rolled_until),
              "ran_at": stmt.excluded.ran_at}))


def _uncount_leads(conn: Connection, app_id: str, in_day: list) -> None:
    """Take the events about to be deleted off their leads' stored-event counts."""
    per_lead = conn.execute(select(activities.c.fingerprint_id, func.count())
                            .where(*in_day).group_by(activities.c.fingerprint_id)).all()
    if per_lead:
        conn.execute(update(leads).where(leads.c.app_id == app_id,
                                         leads.c.fingerprint == bindparam("fp"))
                     .values(events=leads.c.events - bindparam("n")),
                     [{"fp": fp, "n": n} for fp, n in per_lead])


def _roll_day(conn: Connection, app_id: str, day: int, now: int, *,
              delete_rows: bool = True) -> tuple[int, int]:
    """One day of one app, in the caller's transaction: aggregate, count, delete (unless
    the caller empties the day's whole partition itself)."""
    c = activities.c
    seq, _, _ = _lock_state(conn)  # serialises with refresh_rollups
    in_day = [c.app_id == app_id, c.timestamp >= day, c.timestamp < day + DAY_MS]
    rolled = _add_daily(conn, app_id, day)
    # Rows above the watermark are not in the rollups yet; once deleted the incremental
    # refresh would never see them, so count them here.
    add_counts(conn, *in_day, c.seq > seq)
    remove_days(conn, app_id, day, day + DAY_MS)  # who was active goes with the events
    remove_weekly_days(conn, app_id, day, day + DAY_MS)
    _uncount_leads(conn, app_id, in_day)
    deleted = 0
    if delete_rows:
        if is_partitioned(conn):
            forget_ids(conn, app_id, day, day + DAY_MS)
        deleted = conn.execute(delete(activities).where(*in_day)).rowcount or 0
    for table in (rollup_presence, rollup_presence_15m):  # who was active goes too
        conn.execute(delete(table).where(table.c.app_id == app_id, table.c.bucket >= day,
                                         table.c.bucket < day + DAY_MS))
    forget_day(conn, app_id, day)
    _mark(conn, app_id, day + DAY_MS, now)
    if delete_rows:
        lower_watermark(conn)
    return rolled, int(deleted)


def _roll_partition(conn: Connection, p: Partition, reports: dict[str, AppRetention],
                    cutoffs: dict[str, int], now: int) -> bool | None:
    """PostgreSQL: roll up a wholly expired partition and empty it, in the caller's
    transaction. None when it cannot go whole: some app keeps part of it, an app of the
    run has older expired rows to go first (row by row), or an app outside this run has
    rows in it. False when it was empty (drop it only once no app could still write it)."""
    _lock_state(conn)  # first: another process's run on this partition ends before ours
    if conn.exec_driver_sql("SELECT to_regclass(%(p)s)", {"p": p.name}).scalar() is None:
        return None  # that run dropped it
    present = [a for a in cutoffs if rows_of(conn, p, a)]
    if not present:
        return False
    if any(a not in reports or p.hi > cutoffs[a] or _next_day(conn, a, 0, p.lo) is not None
           for a in present):
        return None
    conn.exec_driver_sql(f"LOCK TABLE {p.name} IN SHARE MODE")  # no writes meanwhile
    for a in present:
        report, day = reports[a], p.lo
        while (day := _next_day(conn, a, day, p.hi)) is not None:
            rolled, _ = _roll_day(conn, a, day, now, delete_rows=False)
            report.days += 1
            report.events_rolled_up += rolled
            report.events_deleted += rolled
            report.first_day = day if report.first_day is None else min(report.first_day, day)
            report.last_day = day if report.last_day is None else max(report.last_day, day)
            day += DAY_MS
        _mark(conn, a, p.hi, now)
        report.partitions_dropped += 1
    empty_partition(conn, p)
    lower_watermark(conn)
    return True


def _drop_partitions(conn: Connection, reports: dict[str, AppRetention],
                     cutoffs: dict[str, int], now: int,
                     progress: Callable[[AppRetention, int], None] | None) -> None:
    """Wholly expired partitions: aggregates as row by row, then the table goes at once."""
    if not cutoffs:
        return
    with conn.begin():
        found = list_partitions(conn)
    for p in found:
        if p.hi > max(cutoffs.values()):
            break
        with conn.begin():
            emptied = _roll_partition(conn, p, reports, cutoffs, now)
        # Empty and expired for every app (ingest refuses its times) and out of the window
        # ensure_partitions keeps: nothing will be written there again.
        if emptied or (emptied is False and p.hi <= min(cutoffs.values()) and
                       p.hi <= week_start(now) - WINDOW_BACK_WEEKS * WEEK_MS):
            drop_partition(conn, p)
        if emptied and progress:
            for a in reports.values():
                progress(a, p.hi - DAY_MS)


def _next_day(conn: Connection, app_id: str, after: int, cutoff: int) -> int | None:
    c = activities.c
    first = conn.execute(select(func.min(c.timestamp)).where(
        c.app_id == app_id, c.timestamp >= after, c.timestamp < cutoff)).scalar()
    return None if first is None else int(first) - int(first) % DAY_MS


def run_retention(engine: Engine, *, app: str | None = None, now: int | None = None,
                  progress: Callable[[AppRetention, int], None] | None = None,
                  ) -> list[AppRetention]:
    """Roll up and delete expired events of every app (or of `app`, an id or name).

    `progress(report, day)` is called after each day; each day commits on its own, so an
    interrupted run loses nothing and the next run continues.
    """
    now = now_ms() if now is None else now
    with engine.connect() as conn:
        targets = [get_app(conn, app)] if app else list_apps(conn)
        partitioned = is_partitioned(conn)
        cutoffs = {a.id: cutoff_for(a, now) for a in list_apps(conn)}
    reports = [AppRetention(a.id, a.name, int(a.setting("retentionDays")), cutoff_for(a, now))
               for a in targets]
    with write_connection(engine) as conn:
        if partitioned:
            _drop_partitions(conn, {r.app_id: r for r in reports}, cutoffs, now, progress)
        for report in reports:
            day: int | None = 0
            while True:
                with conn.begin():
                    day = _next_day(conn, report.app_id, day, report.cutoff)
                    if day is None:
                        if rolled_until(conn, report.app_id) < report.cutoff:
                            _mark(conn, report.app_id, report.cutoff, now)
                        break
                    rolled, deleted = _roll_day(conn, report.app_id, day, now)
                report.days += 1
                report.events_rolled_up += rolled
                report.events_deleted += deleted
                report.first_day = day if report.first_day is None else \
                    min(report.first_day, day)
                report.last_day = day if report.last_day is None else max(report.last_day, day)
                if progress:
                    progress(report, day)
                day += DAY_MS
    return reports
