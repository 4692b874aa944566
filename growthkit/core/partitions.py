"""PostgreSQL: `activities` partitioned by week of `timestamp`, and the event-id table that
keeps de-duplication exact across partitions. SQLite stays one table (nothing here runs).

Weeks (Monday 00:00 UTC to the next Monday) because dashboards ask for the last 1, 7 or 30
days (one to five partitions, each with indexes small enough to stay cached while ingest
writes into the newest) and retention cuts whole UTC days at 90 days: about 14 partitions
are live, and a wholly expired one is dropped instead of deleting its rows. Months would
leave up to a month of expired rows to delete row by row at the edge and make a one-day
query read a month's index.

Every week from WINDOW_BACK_WEEKS ago to AHEAD_WEEKS ahead has a partition (created by
`migrate` and by the server's maintenance); an event of any other time lands in the
DEFAULT partition, so nothing is ever refused for want of a partition. A week within
MANAGED_BACK_WEEKS that has rows in the default gets its own partition, rows moved into it.

A partitioned table's unique indexes must contain the partition key, so (app_id, id) can
no longer be unique on `activities`: `activity_ids` (not partitioned, primary key
(app_id, id)) holds the id of every stored event. Ingest claims ids there first (ON
CONFLICT DO NOTHING) and stores only the claimed events, in the same statement; retention
forgets the ids of the events it removes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from growthkit.core.timezones import DAY_MS, EPOCH_WEEKDAY_SHIFT, WEEK_MS

PARENT = "activities"
DEFAULT = "activities_default"
AHEAD_WEEKS = 4
WINDOW_BACK_WEEKS = 1
# Weeks this far back with rows in the default partition get a partition of their own;
# older ones (and far-future ones) stay in the default: a few outliers, not worth a table.
MANAGED_BACK_WEEKS = 104
_BOUND = re.compile(r"FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)")


@dataclass(frozen=True)
class Partition:
    name: str
    lo: int  # first timestamp (ms) it holds
    hi: int  # first timestamp it no longer holds


def week_start(ms: int) -> int:
    """The Monday 00:00 UTC at or before `ms`."""
    shifted = ms + EPOCH_WEEKDAY_SHIFT * DAY_MS
    return shifted - shifted % WEEK_MS - EPOCH_WEEKDAY_SHIFT * DAY_MS


def partition_name(lo: int) -> str:
    return f"activities_p{datetime.fromtimestamp(lo / 1000, UTC):%Y%m%d}"


def is_partitioned(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return conn.exec_driver_sql(
        "SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('activities')").scalar() \
        is True


def list_partitions(conn: Connection) -> list[Partition]:
    """The weekly partitions (not the default), oldest first."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%(parent)s)",
        {"parent": PARENT}).all()
    found = []
    for name, bound in rows:
        m = _BOUND.search(bound)
        if m:
            found.append(Partition(name, int(m.group(1)), int(m.group(2))))
    return sorted(found, key=lambda p: p.lo)


def _create(conn: Connection, lo: int) -> Partition:
    """A partition for the week at `lo`; rows of that week in the default move into it."""
    p = Partition(partition_name(lo), lo, lo + WEEK_MS)
    in_week = f'"timestamp" >= {p.lo} AND "timestamp" < {p.hi}'
    # Writers of the default wait for the move (rare: only outliers go there).
    conn.exec_driver_sql(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
    if conn.exec_driver_sql(f"SELECT 1 FROM {DEFAULT} WHERE {in_week} LIMIT 1").first() is None:
        conn.exec_driver_sql(f"CREATE TABLE {p.name} PARTITION OF {PARENT} "
                             f"FOR VALUES FROM ({p.lo}) TO ({p.hi})")
        return p
    conn.exec_driver_sql(f"CREATE TABLE {p.name} (LIKE {PARENT} INCLUDING DEFAULTS "
                         "INCLUDING CONSTRAINTS)")
    conn.exec_driver_sql(f"WITH moved AS (DELETE FROM {DEFAULT} WHERE {in_week} RETURNING *) "
                         f"INSERT INTO {p.name} SELECT * FROM moved")
    # Attaching builds the partition's copies of the parent's indexes.
    conn.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {p.name} "
                         f"FOR VALUES FROM ({p.lo}) TO ({p.hi})")
    return p


def weeks_with_rows(conn: Connection, table: str, now: int) -> set[int]:
    """The managed weeks (MANAGED_BACK_WEEKS back to AHEAD_WEEKS ahead) `table` has rows in."""
    shift = EPOCH_WEEKDAY_SHIFT * DAY_MS
    return {int(w) for (w,) in conn.exec_driver_sql(
        f'SELECT DISTINCT ("timestamp" + {shift}) - ("timestamp" + {shift}) %% {WEEK_MS} '
        f'- {shift} FROM {table} WHERE "timestamp" >= %(lo)s AND "timestamp" < %(hi)s',
        {"lo": week_start(now) - MANAGED_BACK_WEEKS * WEEK_MS,
         "hi": week_start(now) + (AHEAD_WEEKS + 1) * WEEK_MS})}


def ensure_partitions(conn: Connection, now: int, *, since: int | None = None,
                      weeks: set[int] | None = None) -> list[Partition]:
    """Create the missing weekly partitions from `since` (default: WINDOW_BACK_WEEKS ago)
    to AHEAD_WEEKS ahead, for `weeks` (week starts) and for managed weeks with rows in the
    default partition. Runs in the caller's transaction; returns the partitions created."""
    if not is_partitioned(conn):
        return []
    # Serialise the upkeep of this schema's partitions (advisory locks are per database).
    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(current_schema() || "
                         "'.activities partitions'))")
    have = {p.lo for p in list_partitions(conn)}
    first = week_start(now - WINDOW_BACK_WEEKS * WEEK_MS if since is None else since)
    wanted = set(range(first, week_start(now) + (AHEAD_WEEKS + 1) * WEEK_MS, WEEK_MS))
    wanted |= weeks or set()
    wanted |= weeks_with_rows(conn, DEFAULT, now)
    return [_create(conn, lo) for lo in sorted(wanted - have)]


def drop_partition(conn: Connection, p: Partition, lock_timeout_ms: int = 5000) -> bool:
    """Drop an (emptied) partition in its own short transaction; dropping locks the parent
    table exclusively for a moment, so give up after `lock_timeout_ms` behind long readers
    (False: it stays, empty, for the next run)."""
    try:
        with conn.begin():
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {p.name}")
        return True
    except Exception:  # noqa: BLE001 - lock timeout: the empty partition costs nothing
        return False


def rows_of(conn: Connection, p: Partition, app_id: str) -> bool:
    return conn.exec_driver_sql(f"SELECT 1 FROM {p.name} WHERE app_id = %(a)s LIMIT 1",
                                {"a": app_id}).first() is not None


def empty_partition(conn: Connection, p: Partition) -> int:
    """Forget the ids of the partition's events and empty it (in the caller's transaction);
    returns how many events it held."""
    n = conn.exec_driver_sql(f"SELECT count(*) FROM {p.name}").scalar() or 0
    conn.exec_driver_sql(f"DELETE FROM activity_ids i USING {p.name} a "
                         "WHERE i.app_id = a.app_id AND i.id = a.id")
    # TRUNCATE locks only this partition, which no one writes: its week has expired.
    conn.exec_driver_sql(f"TRUNCATE {p.name}")
    return int(n)



def forget_ids(conn: Connection, app_id: str, lo: int, hi: int) -> None:
    """Before deleting an app's events in [lo, hi) row by row: forget their ids."""
    conn.exec_driver_sql(
        "DELETE FROM activity_ids i USING activities a WHERE a.app_id = %(a)s AND "
        'a."timestamp" >= %(lo)s AND a."timestamp" < %(hi)s AND i.app_id = a.app_id '
        "AND i.id = a.id", {"a": app_id, "lo": lo, "hi": hi})
