"""Bulk reads for copies of a store (offline snapshots, the console's local cache): stored rows
of one app in the store's own form, cursor-paged by row number.

A page is `{columns, rows, nextCursor, syncCursor}`: `rows` are lists in `columns` order with
times as epoch milliseconds and JSON columns as JSON text (no ISO formatting, no re-encoding:
a copy inserts them as they are). `nextCursor` continues this walk (null on the last page);
`syncCursor` is where a later sync resumes to get only rows stored since. On PostgreSQL,
row numbers are handed out before commit and transactions commit in any order, so
`syncCursor` stays behind rows younger than `SETTLE_MS`: a later sync reads them again
(copies upsert by row number) rather than missing a row that committed late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Text, cast, func, select

from growthkit.core import cursors, params
from growthkit.core.clock import now_ms
from growthkit.core.errors import QueryError
from growthkit.core.rollups import SETTLE_MS, rolled_until
from growthkit.core.schema import (
    activities,
    credit_operations,
    daily_rollups,
    leads,
    rollup_counts,
    rollup_hourly,
)

DEFAULT_LIMIT = 5000
MAX_LIMIT = 10_000
MAX_FINGERPRINTS = 1000

ACTIVITY_COLUMNS = ("seq", "id", "fingerprintId", "eventName", "properties", "context",
                    "sessionId", "timestamp", "receivedAt")
LEAD_COLUMNS = ("id", "fingerprint", "firstSeen", "lastSeen", "email", "name", "traits",
                "events")
CREDIT_COLUMNS = ("seq", "id", "fingerprintId", "action", "amount", "balanceAfter", "reason",
                  "timestamp")
COUNT_COLUMNS = ("bucket", "eventName", "events")
DAILY_COLUMNS = ("day", "eventName", "events", "users", "sessions")


class BulkError(QueryError):
    """A bulk read that cannot be honoured; the message names the field and the rule."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(field or message.split(" ", 1)[0], message)


@dataclass
class RowPage:
    """One page of stored rows (see the module docstring)."""

    columns: tuple[str, ...]
    rows: list[list[Any]]
    next_cursor: str | None
    sync_cursor: str
    remaining: int | None = None  # asked for: rows from this page's start to the end

    def to_json(self) -> dict[str, Any]:
        out = {"columns": list(self.columns), "rows": self.rows,
               "nextCursor": self.next_cursor, "syncCursor": self.sync_cursor}
        if self.remaining is not None:
            out["remaining"] = self.remaining
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowPage:
        return cls(tuple(data["columns"]), data["rows"], data.get("nextCursor"),
                   data["syncCursor"], data.get("remaining"))


@dataclass
class Aggregates:
    """What retention kept of deleted events in a range: before `rolled_until` only these
    remain (daily counts with distinct users and sessions; 15-minute and hourly counts)."""

    rolled_until: int
    daily: list[list[Any]] = field(default_factory=list)
    counts_15m: list[list[Any]] = field(default_factory=list)
    counts_hourly: list[list[Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rolledUntil": self.rolled_until or None,
                "daily": {"columns": list(DAILY_COLUMNS), "rows": self.daily},
                "counts15m": {"columns": list(COUNT_COLUMNS), "rows": self.counts_15m},
                "countsHourly": {"columns": list(COUNT_COLUMNS), "rows": self.counts_hourly}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Aggregates:
        return cls(int(data.get("rolledUntil") or 0), data["daily"]["rows"],
                   data["counts15m"]["rows"], data["countsHourly"]["rows"])


def check_limit(limit: int) -> int:
    return params.check_limit(limit, MAX_LIMIT)


def check_fingerprints(fingerprints: Sequence[str] | None) -> list[str] | None:
    if fingerprints is None:
        return None
    if not isinstance(fingerprints, list | tuple) or not all(
            isinstance(f, str) and 1 <= len(f) <= 128 and "\x00" not in f for f in fingerprints):
        raise BulkError("fingerprints must be a list of fingerprints (1-128 characters each, "
                        "no NUL character)")
    if len(fingerprints) > MAX_FINGERPRINTS:
        raise BulkError(f"fingerprints: at most {MAX_FINGERPRINTS} per request, not "
                        f"{len(fingerprints)}; split the list")
    return list(dict.fromkeys(fingerprints))


def _settled_before(conn: Connection) -> int | None:
    """Rows stamped at or after this time may have neighbours still in flight (PostgreSQL)."""
    return None if conn.dialect.name == "sqlite" else now_ms() - SETTLE_MS


def _page(kind: str, columns: tuple[str, ...], rows: list, limit: int, after: int,
          settled: int | None, stamp: int) -> RowPage:
    """A page from up to limit+1 rows whose first value is the seq and whose `stamp`-th
    value is the time the row was written."""
    more = len(rows) > limit
    rows = [list(r) for r in rows[:limit]]
    last = rows[-1][0] if rows else after
    sync = last
    if settled is not None:
        # Resume before the first row that is too young to be sure of its neighbours.
        young = next((i for i, r in enumerate(rows) if r[stamp] >= settled), None)
        if young is not None:
            sync = rows[young - 1][0] if young else after
    return RowPage(columns, rows, cursors.encode(kind, [last]) if more else None,
                   cursors.encode(kind, [sync]))


def activity_rows(conn: Connection, app_id: str, *, start: int | None = None,
                  end: int | None = None, event_names: Sequence[str] = (),
                  cursor: str | None = None, limit: int = DEFAULT_LIMIT,
                  count: bool = False) -> RowPage:
    """The app's activities (optionally in [start, end) and of these names) by seq;
    `count`: also how many rows the walk has left from this page on (for progress)."""
    check_limit(limit)
    if start is not None and end is not None and start >= end:
        raise BulkError("from must be before to (to is exclusive)")
    after = (cursors.decode("bulk:activities", cursor, 1) or [0])[0]
    c = activities.c
    # `|| ''` and `+ 0` keep the planners on the primary key: pages walk seq order, and a
    # time or name index would sort the whole range again for every page.
    where = [c.app_id.concat("") == app_id, c.seq > after]
    if start is not None:
        where.append((c.timestamp + 0) >= start)
    if end is not None:
        where.append((c.timestamp + 0) < end)
    if event_names:
        where.append(c.event_name.concat("").in_(list(event_names)))
    rows = conn.execute(select(c.seq, c.id, c.fingerprint_id, c.event_name,
                               cast(c.properties, Text), cast(c.context, Text), c.session_id,
                               c.timestamp, c.received_at)
                        .where(*where).order_by(c.seq).limit(limit + 1)).all()
    page = _page("bulk:activities", ACTIVITY_COLUMNS, rows, limit, after,
                 _settled_before(conn), 8)
    if count:
        page.remaining = activity_count(conn, app_id, start=start, end=end,
                                        event_names=event_names, after=after)
    return page


def credit_rows(conn: Connection, app_id: str, *, fingerprints: Sequence[str] | None = None,
                cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> RowPage:
    """The app's credit operations (optionally only these leads' ledgers) by seq."""
    check_limit(limit)
    fps = check_fingerprints(fingerprints)
    after = (cursors.decode("bulk:credits", cursor, 1) or [0])[0]
    c = credit_operations.c
    where = [c.app_id == app_id, c.seq > after]
    if fps is not None:
        where.append(c.fingerprint_id.in_(fps))
    rows = conn.execute(select(c.seq, c.id, c.fingerprint_id, c.action, c.amount,
                               c.balance_after, c.reason, c.timestamp)
                        .where(*where).order_by(c.seq).limit(limit + 1)).all()
    return _page("bulk:credits", CREDIT_COLUMNS, rows, limit, after, _settled_before(conn), 7)


def lead_rows(conn: Connection, app_id: str, *, fingerprints: Sequence[str] | None = None,
              seen_since: int | None = None, cursor: str | None = None,
              limit: int = DEFAULT_LIMIT, count: bool = False) -> RowPage:
    """The app's leads (optionally these fingerprints, or those seen since a time) by id;
    `count`: also how many the walk has left from this page on.

    `syncCursor` is not a resume point here (leads change in place): sync leads again with
    `seen_since` (their last activity) or by the fingerprints that new activities name.
    """
    check_limit(limit)
    fps = check_fingerprints(fingerprints)
    after = (cursors.decode("bulk:leads", cursor, 1) or [0])[0]
    c = leads.c
    where = [c.app_id == app_id, c.id > after]
    if fps is not None:
        where.append(c.fingerprint.in_(fps))
    if seen_since is not None:
        where.append(c.last_seen >= seen_since)
    rows = conn.execute(select(c.id, c.fingerprint, c.first_seen, c.last_seen, c.email,
                               c.name, cast(c.traits, Text), c.events)
                        .where(*where).order_by(c.id).limit(limit + 1)).all()
    page = _page("bulk:leads", LEAD_COLUMNS, rows, limit, after, None, 0)
    if count:
        page.remaining = int(conn.execute(select(func.count()).select_from(leads)
                                          .where(*where)).scalar() or 0)
    return page


def aggregates(conn: Connection, app_id: str, *, start: int | None = None,
               end: int | None = None) -> Aggregates:
    """The rolled-up counts of the part of [start, end) before the app's retention cut."""
    cut = rolled_until(conn, app_id)
    lo = start if start is not None else 0
    hi = min(end, cut) if end is not None else cut
    out = Aggregates(cut)
    if hi <= lo:
        return out
    d = daily_rollups.c
    out.daily = [list(r) for r in conn.execute(
        select(d.day, d.event_name, d.events, d.users, d.sessions)
        .where(d.app_id == app_id, d.day >= lo - lo % 86_400_000, d.day < hi)
        .order_by(d.day, d.event_name))]
    for table, target in ((rollup_counts, out.counts_15m), (rollup_hourly, out.counts_hourly)):
        t = table.c
        target.extend(list(r) for r in conn.execute(
            select(t.bucket, t.event_name, t.events)
            .where(t.app_id == app_id, t.bucket >= lo, t.bucket < hi)
            .order_by(t.bucket, t.event_name)))
    return out


def activity_count(conn: Connection, app_id: str, *, start: int | None = None,
                   end: int | None = None, event_names: Sequence[str] = (),
                   after: int = 0) -> int:
    """How many activities `activity_rows` walks for these filters after seq `after`."""
    c = activities.c
    where = [c.app_id == app_id]
    if after:
        where.append(c.seq > after)
    if start is not None:
        where.append(c.timestamp >= start)
    if end is not None:
        where.append(c.timestamp < end)
    if event_names:
        where.append(c.event_name.in_(list(event_names)))
    return int(conn.execute(select(func.count()).select_from(activities).where(*where))
               .scalar() or 0)
