"""Daily presence: which leads and sessions were active on which UTC day, and the "steps"
between a key's consecutive days, kept from the rollup watermark (never at ingest).

For each app, kind ('u': fingerprint, 's': session) and event name ('*': any event),
`presence_days` holds one row per key and day it was present, and `presence_steps` counts
the keys present on `day` whose previous day present was `prev_day` (NO_DAY: none). Every
key present somewhere in whole days [d1, d2) has exactly one day there whose previous day
is before d1 (its first one), so the number of distinct keys is

    sum(present) over presence_steps where d1 <= day < d2 and prev_day < d1

— a few thousand rows for any range, whatever the number of events (growthkit/core/
distinct.py adds the partial days at the edges).

Adding or removing a key's day d changes only two steps of that key: d's own and the one of
its next day (p, n) -> (p, d), (d, n). A change is applied set-based, in SQL: the touched
rows (the changed days and the next stored day after each) go into a temporary table, their
steps are subtracted, presence_days changes, and their steps are added back — index probes
per touched row, whatever a key's history. Late events (old timestamps, new seq) fit in
exactly.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    MetaData,
    String,
    Table,
    and_,
    delete,
    func,
    literal_column,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.schema import CreateTable

from growthkit.core.schema import activities, presence_days, presence_steps
from growthkit.core.store import insert
from growthkit.core.timezones import DAY_MS

NO_DAY = -(2**62)  # prev_day of a key's first day
ALL = "*"  # any event (not a valid event name)
USERS, SESSIONS = "u", "s"
GROUP = ("key", "app_id", "kind", "event_name")

# The rows one change touches (per connection; emptied before each use, and on PostgreSQL
# truncated at commit: a temporary table is never vacuumed, deleted rows would pile up).
touched = Table(
    "presence_touched", MetaData(),
    *(Column(name, String(200), primary_key=True) for name in GROUP),
    Column("day", BigInteger, primary_key=True),
    prefixes=["TEMPORARY"], postgresql_on_commit="DELETE ROWS",
)


def scratch(conn: Connection, table: Table) -> None:
    """Create (once per connection) and empty a temporary work table."""
    conn.execute(CreateTable(table, if_not_exists=True))
    conn.execute(delete(table))


def _same_key(t) -> ColumnElement:  # noqa: ANN001
    p = presence_days.c
    return and_(*(p[n] == t[n] for n in GROUP))


def _touch(conn: Connection, where: tuple) -> None:
    """The (key, event name, day) rows of the activities matching `where`, and the next
    stored day after each (its step changes when a day is added or removed before it)."""
    scratch(conn, touched)
    c, t, p = activities.c, touched.c, presence_days.c
    day = (c.timestamp // DAY_MS) * DAY_MS
    own = union(*(select(key, c.app_id, literal_column(f"'{kind}'"), name, day).where(*where)
                  for kind, key in ((USERS, c.fingerprint_id), (SESSIONS, c.session_id))
                  for name in (literal_column(f"'{ALL}'"), c.event_name)))
    conn.execute(touched.insert().from_select([*GROUP, "day"], own))
    nxt = select(func.min(p.day)).where(_same_key(t), p.day > t.day).scalar_subquery()
    later = select(*(t[n] for n in GROUP), nxt.label("day")).subquery()
    conn.execute(insert(conn, touched).from_select(
        [*GROUP, "day"], select(later).where(later.c.day.is_not(None)).distinct())
        .on_conflict_do_nothing())


def _count_steps(conn: Connection, sign: int) -> None:
    """Add `sign` times the steps of the touched rows that are present days now."""
    t, p, s = touched.c, presence_days.c, presence_steps.c
    latest = select(func.max(p.day)).where(_same_key(t), p.day <= t.day).scalar_subquery()
    prev = select(func.max(p.day)).where(_same_key(t), p.day < t.day).scalar_subquery()
    rows = select(t.app_id, t.kind, t.event_name, t.day,
                  func.coalesce(prev, NO_DAY).label("prev_day")).where(latest == t.day).subquery()
    steps = select(rows, (func.count() * sign).label("present")).group_by(*rows.c)
    stmt = insert(conn, presence_steps).from_select([*rows.c.keys(), "present"], steps)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[s.app_id, s.kind, s.event_name, s.day, s.prev_day],
        set_={"present": s.present + stmt.excluded.present}))


def _change(conn: Connection, where: tuple, gone: tuple[int, int] | None = None) -> None:
    """Add the days of the activities matching `where` (or, with `gone` = [start, end),
    remove those days of them), keeping presence_steps in step."""
    t, p, s = touched.c, presence_days.c, presence_steps.c
    _touch(conn, where)
    _count_steps(conn, -1)
    if gone is None:
        conn.execute(insert(conn, presence_days).from_select(
            [*GROUP, "day"], select(touched).where(true())).on_conflict_do_nothing())
    else:
        keys = [*GROUP, "day"]
        conn.execute(delete(presence_days).where(tuple_(*(p[n] for n in keys)).in_(
            select(*(t[n] for n in keys)).where(t.day >= gone[0], t.day < gone[1]))))
    _count_steps(conn, 1)
    cell = ("app_id", "kind", "event_name", "day")
    conn.execute(delete(presence_steps).where(s.present == 0, tuple_(*(s[n] for n in cell)).in_(
        select(*(t[n] for n in cell)).distinct())))


def add_presence(conn: Connection, *where) -> None:  # noqa: ANN002
    """Count the activities matching `where` into the daily presence (called with the
    rows the rollup watermark passes over, in the same transaction)."""
    _change(conn, where)


def remove_days(conn: Connection, app_id: str, start: int, end: int) -> None:
    """Forget the presence of whole UTC days [start, end) of one app, before their
    activities are deleted (retention); the days must be fully rolled up."""
    c = activities.c
    _change(conn, (c.app_id == app_id, c.timestamp >= start, c.timestamp < end),
            gone=(start, end))
