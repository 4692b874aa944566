"""A lead's sessions: its events grouped by session id, newest session first, keyset-paged.

A session's `start`/`end` are its first and last event times; `entryPage`/`exitPage` the
`url` of the context of those events; `pageViews` its `page_viewed` events; browser, OS and
device come from the first event's context. A session's events in order are
`GET /leads/{fp}/activities?sessionId=…&order=asc` (the activity feed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select

from growthkit.core import cursors
from growthkit.core.clock import parse_time, to_iso
from growthkit.core.errors import QueryError
from growthkit.core.filters import ActivityFilter
from growthkit.core.leads import MAX_LIMIT, get_lead
from growthkit.core.params import check_limit
from growthkit.core.schema import activities

PAGE_VIEW = "page_viewed"
CURSOR_KIND = "sessions"


@dataclass(frozen=True)
class LeadSessionsQuery:
    """One page of a lead's sessions, built from its events in [start, end) (epoch ms)."""

    fingerprint: str
    start: int | None = None
    end: int | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass
class Session:
    session_id: str
    start: int
    end: int
    events: int
    page_views: int
    entry_page: str | None = None
    exit_page: str | None = None
    browser: str | None = None
    os: str | None = None
    device: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"sessionId": self.session_id, "start": to_iso(self.start),
                "end": to_iso(self.end), "durationSeconds": (self.end - self.start) / 1000,
                "events": self.events, "pageViews": self.page_views,
                "entryPage": self.entry_page, "exitPage": self.exit_page,
                "browser": self.browser, "os": self.os, "device": self.device}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Session:
        return cls(session_id=data["sessionId"], start=parse_time(data["start"]),
                   end=parse_time(data["end"]), events=data["events"],
                   page_views=data["pageViews"], entry_page=data.get("entryPage"),
                   exit_page=data.get("exitPage"), browser=data.get("browser"),
                   os=data.get("os"), device=data.get("device"))


@dataclass
class LeadSessions:
    fingerprint: str
    data: list[Session] = field(default_factory=list)
    next_cursor: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "data": [s.to_json() for s in self.data],
                "nextCursor": self.next_cursor}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadSessions:
        return cls(data["fingerprint"], [Session.from_json(s) for s in data["data"]],
                   data.get("nextCursor"))


def _cursor_values(cursor: str | None) -> tuple[int, str] | None:
    """A session cursor carries (start, session id); the id is text, so it rides along."""
    if not cursor:
        return None
    head, sep, sid = cursor.partition(".")
    if not sep or not sid:
        raise cursors.CursorError()
    (start,) = cursors.decode(CURSOR_KIND, head, 1)
    return start, sid


def lead_sessions(conn: Connection, app_id: str, q: LeadSessionsQuery) -> LeadSessions:
    """The page of `q.fingerprint`'s sessions, newest start first (ties: session id)."""
    check_limit(q.limit, MAX_LIMIT)
    if q.start is not None and q.end is not None and q.start >= q.end:
        raise QueryError("from", "from must be earlier than to")
    get_lead(conn, app_id, q.fingerprint)
    after = _cursor_values(q.cursor)
    a = activities.c
    flt = ActivityFilter(app_id, start=q.start, end=q.end, fingerprint=q.fingerprint)
    first, sid = func.min(a.timestamp), a.session_id
    stmt = (select(sid, first.label("start"), func.max(a.timestamp).label("end"),
                   func.count().label("events"),
                   func.sum(case((a.event_name == PAGE_VIEW, 1), else_=0)).label("views"))
            .where(*flt.clauses()).group_by(sid))
    if after is not None:
        stmt = stmt.having(or_(first < after[0], and_(first == after[0], sid < after[1])))
    rows = conn.execute(stmt.order_by(first.desc(), sid.desc()).limit(q.limit + 1)).all()
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    sessions = [Session(r.session_id, r.start, r.end, r.events, int(r.views or 0))
                for r in rows]
    _add_pages(conn, flt, sessions)
    next_cursor = None
    if more and sessions:
        last = sessions[-1]
        next_cursor = f"{cursors.encode(CURSOR_KIND, [last.start])}.{last.session_id}"
    return LeadSessions(q.fingerprint, sessions, next_cursor)


def _add_pages(conn: Connection, flt: ActivityFilter, sessions: list[Session]) -> None:
    """Entry/exit page and browser/OS/device from each session's first and last events:
    the page's sessions' events numbered from each end (window functions), so only two
    rows per session are read back and only their contexts decoded."""
    if not sessions:
        return
    a = activities.c
    first = func.row_number().over(partition_by=a.session_id, order_by=(a.timestamp, a.seq))
    last = func.row_number().over(partition_by=a.session_id,
                                  order_by=(a.timestamp.desc(), a.seq.desc()))
    numbered = (select(a.session_id, a.context, first.label("rn_first"),
                       last.label("rn_last"))
                .where(*flt.clauses(), a.session_id.in_([s.session_id for s in sessions]))
                .subquery())
    rows = conn.execute(select(numbered.c.session_id, numbered.c.context,
                               numbered.c.rn_first, numbered.c.rn_last)
                        .where(or_(numbered.c.rn_first == 1, numbered.c.rn_last == 1))).all()
    by_id = {s.session_id: s for s in sessions}
    for r in rows:
        s = by_id[r.session_id]
        ctx = r.context or {}
        if r.rn_first == 1:
            s.entry_page = ctx.get("url")
            s.browser, s.os, s.device = ctx.get("browser"), ctx.get("os"), ctx.get("device")
        if r.rn_last == 1:
            s.exit_page = ctx.get("url")
