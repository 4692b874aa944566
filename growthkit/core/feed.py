"""The activity feed: filtered reads of stored activities with keyset pagination.

Pages are ordered by (timestamp, seq) — seq breaks ties between events of the same
millisecond — and a cursor is the opaque position of the last row of a page. A page after
a cursor is "every row strictly beyond that position", so rows stored meanwhile never shift
a page: no row is skipped or repeated while ingest runs. The same statement, streamed,
feeds export; the live stream replays by seq (its Last-Event-ID).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, Select, and_, or_, select

from growthkit.core.activities import COLUMNS, stored_activity
from growthkit.core.filters import ActivityFilter
from growthkit.core.schema import activities

ORDERS = ("desc", "asc")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_CURSOR_VERSION = 1


class CursorError(ValueError):
    """A cursor that this server did not hand out (or that was altered)."""


@dataclass(frozen=True)
class Position:
    """Where a row sits in the feed's order."""

    timestamp: int
    seq: int


def encode_cursor(position: Position) -> str:
    raw = orjson.dumps([_CURSOR_VERSION, position.timestamp, position.seq])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(text: str) -> Position:
    """The position a cursor names; CursorError("cursor is not valid") for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        version, timestamp, seq = orjson.loads(raw)
        ok = version == _CURSOR_VERSION and type(timestamp) is int and type(seq) is int
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        ok = False
    if not ok:
        raise CursorError("cursor is not valid")
    return Position(timestamp, seq)


def _beyond(position: Position, order: str) -> ColumnElement:
    # Written as a range on timestamp plus a tie-break, so the (app_id, timestamp) index
    # bounds the scan on both stores (a row-value comparison would not use it on PostgreSQL).
    ts, seq = activities.c.timestamp, activities.c.seq
    if order == "desc":
        return and_(ts <= position.timestamp, or_(ts < position.timestamp, seq < position.seq))
    return and_(ts >= position.timestamp, or_(ts > position.timestamp, seq > position.seq))


def select_activities(flt: ActivityFilter, order: str = "desc",
                      after: Position | None = None) -> Select:
    """The filtered activities in feed order, optionally only those beyond a position."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    stmt = select(*COLUMNS).where(flt.where())
    if after is not None:
        stmt = stmt.where(_beyond(after, order))
    if order == "desc":
        return stmt.order_by(activities.c.timestamp.desc(), activities.c.seq.desc())
    return stmt.order_by(activities.c.timestamp.asc(), activities.c.seq.asc())


@dataclass
class Page:
    data: list[dict[str, Any]]
    next_cursor: str | None  # None: this was the last page

    def to_json(self) -> dict[str, Any]:
        return {"data": self.data, "nextCursor": self.next_cursor}


def list_activities(conn: Connection, flt: ActivityFilter, *, order: str = "desc",
                    limit: int = DEFAULT_LIMIT, cursor: str | None = None) -> Page:
    """One page of StoredActivity items; raises CursorError for a cursor we did not issue."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    after = decode_cursor(cursor) if cursor else None
    # One row more than asked tells whether another page exists without a COUNT.
    rows = conn.execute(select_activities(flt, order, after).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(Position(rows[-1].timestamp, rows[-1].seq)) if more else None
    return Page([stored_activity(r) for r in rows], next_cursor)


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
