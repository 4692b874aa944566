"""The activity feed: filtered reads of stored activities with keyset pagination.

Pages are ordered by (timestamp, seq) — seq breaks ties between events of the same
millisecond — and a cursor is the opaque position of the last row of a page. A page after
a cursor is "every row strictly beyond that position", so rows stored meanwhile never shift
a page: no row is skipped or repeated while ingest runs. The same statement, streamed,
feeds export; the live stream replays by seq (its Last-Event-ID).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select

from growthkit.core import cursors
from growthkit.core.activities import COLUMNS, ActivityPage, StoredActivity, stored_activity
from growthkit.core.apps import App
from growthkit.core.filters import ActivityFilter
from growthkit.core.params import check_choice, check_limit
from growthkit.core.schema import activities

ORDERS = ("desc", "asc")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


# The feed's keyset: a range on timestamp plus the seq tie-break, so the (app_id, timestamp)
# index bounds the scan on both stores.
KEYSET = (activities.c.timestamp, activities.c.seq)


def select_activities(flt: ActivityFilter, order: str = "desc",
                      after: Sequence[int] | None = None) -> Select:
    """The filtered activities in feed order, optionally only those beyond the position
    `after` (a row's [timestamp, seq])."""
    check_choice(order, ORDERS, "order")
    stmt = select(*COLUMNS).where(flt.where())
    if after is not None:
        stmt = stmt.where(cursors.keyset_after(KEYSET, after, order))
    return stmt.order_by(*cursors.keyset_order(KEYSET, order))


@dataclass
class ActivitiesQuery:
    """GET /activities: the filter, `order` (desc: newest first), page size and cursor."""

    filter: ActivityFilter = field(default_factory=ActivityFilter)
    order: str = "desc"
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def list_activities(conn: Connection, app: App, query: ActivitiesQuery) -> ActivityPage:
    """One page of the app's filtered activities; CursorError for a cursor that is not from
    a page of this order."""
    order = check_choice(query.order, ORDERS, "order")
    limit = check_limit(query.limit, MAX_LIMIT)
    flt = query.filter.scoped(app.id)
    # The order is in the kind: a cursor continues only the walk it came from.
    kind = f"activities:{order}"
    after = cursors.decode(kind, query.cursor, 2)
    # One row more than asked tells whether another page exists without a COUNT.
    rows = conn.execute(select_activities(flt, order, after).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = cursors.encode(kind, [rows[-1].timestamp, rows[-1].seq]) if more else None
    return ActivityPage([StoredActivity.from_row(r) for r in rows], next_cursor)


def iter_activity_chunks(engine: Engine, flt: ActivityFilter, *, order: str = "asc",
                         chunk: int = 1000) -> Iterator[list[dict[str, Any]]]:
    """Every filtered activity as StoredActivity items, `chunk` at a time, in constant memory.

    PostgreSQL reads through a server-side cursor (stream_results); SQLite's cursor is
    incremental already. Closing the iterator early releases the connection.
    """
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(
            select_activities(flt, order))
        for rows in result.partitions():
            yield [stored_activity(r) for r in rows]


def replay_after(conn: Connection, flt: ActivityFilter, seq: int,
                 limit: int = 500) -> list[Any]:
    """Up to `limit` filtered rows (of COLUMNS) stored after `seq`, in seq order.

    The live stream resumes from its Last-Event-ID (a seq) with this.
    """
    stmt = (select(*COLUMNS).where(flt.where(), activities.c.seq > seq)
            .order_by(activities.c.seq.asc()).limit(limit))
    return conn.execute(stmt).all()


def live_start(conn: Connection, app_id: str) -> int:
    """The seq a stream opened now reads on after: every event of the app committed after
    this call has a larger one (an app's events commit in seq order, core/ingest.py)."""
    if conn.dialect.name == "postgresql":
        from growthkit.core.ingest import lock_app_writes

        lock_app_writes(conn, app_id)  # waits out the app's write in flight, if any
    return conn.execute(select(func.coalesce(func.max(activities.c.seq), 0))).scalar_one()
