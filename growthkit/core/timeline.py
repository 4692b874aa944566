"""A lead's unified timeline: tracked events and credit operations in one chronological list.

The two sources are each read keyset-paged on their (timestamp, seq) index and merged in
order (a two-way merge), so a page costs two small index range reads however long the
history is. Items at the same millisecond order events before credit operations, then by
row number. `gapSeconds` is the time since the item listed just before (in the chosen
order, with the same filters); the cursor carries that item's time, so gaps stay right
across pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from growthkit.core import cursors
from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter
from growthkit.core.leads import MAX_LIMIT, ORDERS, get_lead
from growthkit.core.params import check_choice, check_limit
from growthkit.core.results import Result, result
from growthkit.core.schema import activities, credit_operations

KINDS = ("event", "credit")
RANK = {"event": 0, "credit": 1}  # tie order at the same millisecond


def _after(ts_col, seq_col, rank: int, cursor: list[int] | None, order: str) -> list:
    """Clauses for this source's rows that come after the cursor item in `order`."""
    if cursor is None:
        return []
    c_ts, c_rank, c_seq = cursor
    if rank == c_rank:
        return [cursors.keyset_after([ts_col, seq_col], [c_ts, c_seq], order)]
    # Another source: at the cursor's millisecond its rows come after the cursor item only if
    # their rank sorts after it in this order.
    ties_follow = rank > c_rank if order == "asc" else rank < c_rank
    if order == "asc":
        return [ts_col >= c_ts if ties_follow else ts_col > c_ts]
    return [ts_col <= c_ts if ties_follow else ts_col < c_ts]


def _events(conn: Connection, app_id: str, fingerprint: str, start: int | None,
            end: int | None, cursor: list[int] | None, order: str, n: int) -> list[dict]:
    a = activities.c
    where = ActivityFilter(app_id, start=start, end=end, fingerprint=fingerprint).clauses()
    where += _after(a.timestamp, a.seq, RANK["event"], cursor, order)
    rows = conn.execute(select(a.seq, a.id, a.event_name, a.properties, a.session_id,
                               a.timestamp).where(*where)
                        .order_by(*cursors.keyset_order([a.timestamp, a.seq], order)).limit(n))
    return [{"key": (r.timestamp, RANK["event"], r.seq), "kind": "event", "name": r.event_name,
             "details": {"id": r.id, "sessionId": r.session_id,
                         "properties": r.properties or {}}} for r in rows]


def _credits(conn: Connection, app_id: str, fingerprint: str, start: int | None,
             end: int | None, cursor: list[int] | None, order: str, n: int) -> list[dict]:
    c = credit_operations.c
    where = [c.app_id == app_id, c.fingerprint_id == fingerprint]
    if start is not None:
        where.append(c.timestamp >= start)
    if end is not None:
        where.append(c.timestamp < end)
    where += _after(c.timestamp, c.seq, RANK["credit"], cursor, order)
    rows = conn.execute(select(c.seq, c.id, c.action, c.amount, c.balance_after, c.reason,
                               c.timestamp).where(*where)
                        .order_by(*cursors.keyset_order([c.timestamp, c.seq], order)).limit(n))
    return [{"key": (r.timestamp, RANK["credit"], r.seq), "kind": "credit", "name": r.action,
             "details": {"id": r.id, "amount": r.amount, "balanceAfter": r.balance_after,
                         "reason": r.reason}} for r in rows]


@dataclass
class TimelineQuery:
    """GET /leads/{fingerprint}/timeline: `kind` keeps only events or only credit
    operations; the range is start inclusive, end exclusive (epoch ms)."""

    fingerprint: str
    kind: str | None = None
    start: int | None = None
    end: int | None = None
    order: str = "asc"
    limit: int = 100
    cursor: str | None = None


@result
class TimelineItem(Result):
    kind: str
    timestamp: str
    name: str
    details: dict[str, Any]
    gap_seconds: float | None


@result
class TimelinePage(Result):
    data: list[TimelineItem]
    next_cursor: str | None


def timeline(conn: Connection, app: App, query: TimelineQuery) -> TimelinePage:
    """Events and credit operations of one lead in one chronological list, oldest first
    unless order is desc; NotFound for an unknown lead."""
    kind, start, end, order = query.kind or None, query.start, query.end, query.order
    if kind is not None:
        check_choice(kind, KINDS, "kind")
    check_choice(order, ORDERS, "order")
    limit = check_limit(query.limit, MAX_LIMIT)
    if start is not None and end is not None and start >= end:
        raise QueryError("from", "from must be earlier than to")
    app_id, fingerprint = app.id, query.fingerprint
    get_lead(conn, app_id, fingerprint)
    tag = f"timeline:{order}:{kind or 'all'}"
    after = cursors.decode(tag, query.cursor, 3)
    if after is not None and after[1] not in RANK.values():
        raise cursors.CursorError()

    # The first limit+1 items of the merged list are among the first limit+1 of each source.
    items: list[dict] = []
    if kind in (None, "event"):
        items += _events(conn, app_id, fingerprint, start, end, after, order, limit + 1)
    if kind in (None, "credit"):
        items += _credits(conn, app_id, fingerprint, start, end, after, order, limit + 1)
    items.sort(key=lambda item: item["key"], reverse=order == "desc")
    more = len(items) > limit
    items = items[:limit]

    previous = after[0] if after is not None else None
    data = []
    for item in items:
        ts = item["key"][0]
        data.append(TimelineItem(item["kind"], to_iso(ts), item["name"], item["details"],
                                 None if previous is None else abs(ts - previous) / 1000))
        previous = ts
    next_cursor = cursors.encode(tag, list(items[-1]["key"])) if more else None
    return TimelinePage(data, next_cursor)
