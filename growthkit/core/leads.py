"""Leads: search and sort with keyset paging, one lead's details and history, profile edits."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import Connection, column, func, or_, select, table, update
from sqlalchemy import text as text_sql

from growthkit.core import cursors, feed
from growthkit.core.clock import to_iso
from growthkit.core.filters import ActivityFilter, escape_like
from growthkit.core.frequency import top_events
from growthkit.core.heatmap import heatmap
from growthkit.core.schema import activities, leads

SORTS = {"lastSeen": leads.c.last_seen, "firstSeen": leads.c.first_seen,
         "events": leads.c.events}
ORDERS = ("asc", "desc")
MAX_LIMIT = 1000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_TRAITS_BYTES = 16 * 1024


class LeadError(ValueError):
    """A lead request that cannot be honoured; `status` is the HTTP status that fits."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise LeadError(422, f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def check_order(order: str) -> str:
    if order not in ORDERS:
        raise LeadError(422, f"order must be asc or desc, not {order!r}")
    return order


# --- reading leads -------------------------------------------------------------------------

def lead_json(row: Any) -> dict[str, Any]:
    return {"fingerprint": row.fingerprint, "email": row.email, "name": row.name,
            "traits": row.traits or {}, "firstSeen": to_iso(row.first_seen),
            "lastSeen": to_iso(row.last_seen), "events": row.events}


def get_lead(conn: Connection, app_id: str, fingerprint: str) -> Any:
    """The lead's row; LeadError(404) when the app has no such lead."""
    row = conn.execute(select(leads).where(leads.c.app_id == app_id,
                                           leads.c.fingerprint == fingerprint)).first()
    if row is None:
        raise LeadError(404, f"no lead with fingerprint {fingerprint!r} in this app")
    return row


def _indexed_candidates(conn: Connection, q: str) -> Any:
    """On SQLite with the trigram index (migration 0008) and 3+ characters: the ids of
    leads whose fingerprint, email or name contains `q` (any case) — a superset of the
    matches the exact conditions then keep. None: no index to use (a scan, as before)."""
    if conn.dialect.name != "sqlite" or len(q) < 3:
        return None
    if not conn.execute(text_sql("SELECT 1 FROM sqlite_master WHERE name = 'leads_fts'")).first():
        return None
    phrase = '"' + q.replace('"', '""') + '"'  # an FTS5 phrase: a substring for trigrams
    fts = table("leads_fts", column("rowid"))
    return select(fts.c.rowid).where(text_sql("leads_fts MATCH :phrase")
                                     .bindparams(phrase=phrase))


def search_leads(conn: Connection, app_id: str, *, q: str | None = None,
                 sort: str = "lastSeen", order: str = "desc", limit: int = 50,
                 cursor: str | None = None) -> dict[str, Any]:
    """Leads matching `q` (fingerprint prefix, or part of email or name; any case), sorted and
    paged: `{data: [lead], nextCursor}`."""
    if sort not in SORTS:
        raise LeadError(422, f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    check_order(order)
    check_limit(limit)
    after = cursors.decode(f"leads:{sort}:{order}", cursor, 2)
    where = [leads.c.app_id == app_id]
    if q and q.strip():
        text = escape_like(q.strip().lower())
        where.append(or_(func.lower(leads.c.fingerprint).like(text + "%", escape="\\"),
                         func.lower(leads.c.email).like(f"%{text}%", escape="\\"),
                         func.lower(leads.c.name).like(f"%{text}%", escape="\\")))
        candidates = _indexed_candidates(conn, q.strip())
        if candidates is not None:
            where.append(leads.c.id.in_(candidates))
    key = SORTS[sort]
    if after is not None:
        where.append(cursors.keyset_after([key, leads.c.id], after, order))
    rows = conn.execute(select(leads).where(*where)
                        .order_by(*cursors.keyset_order([key, leads.c.id], order))
                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    data = [lead_json(r) for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        value = getattr(last, key.name)
        next_cursor = cursors.encode(f"leads:{sort}:{order}", [value, last.id])
    return {"data": data, "nextCursor": next_cursor}


def lead_details(conn: Connection, app_id: str, fingerprint: str, tz: ZoneInfo) -> dict[str, Any]:
    """One lead: profile, event and session counts, top events, and when it is active
    (by local hour of day and day of week, Monday first) in `tz`."""
    row = get_lead(conn, app_id, fingerprint)
    a = activities.c
    sessions = conn.execute(select(func.count(a.session_id.distinct()))
                            .where(a.app_id == app_id, a.fingerprint_id == fingerprint)).scalar()
    flt = ActivityFilter(app_id, fingerprint=fingerprint)
    grid = heatmap(conn, flt, tz, metric="events")
    out = lead_json(row)
    out.update({
        "sessions": sessions,
        "topEvents": top_events(conn, flt, limit=10),
        "frequency": {
            "timeZone": tz.key,
            "byHourOfDay": [sum(day[h] for day in grid) for h in range(24)],
            "byDayOfWeek": [sum(day) for day in grid],
        },
    })
    return out


def lead_activities(conn: Connection, flt: ActivityFilter, *, order: str = "desc",
                    limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    """A lead's history: the activity feed (growthkit.core.feed) for `flt.fingerprint`, with
    a 404 for a lead the app does not have."""
    if not flt.fingerprint:
        raise LeadError(422, "fingerprint is required")
    check_order(order)
    check_limit(limit)
    get_lead(conn, flt.app_id, flt.fingerprint)
    return feed.list_activities(conn, flt, order=order, limit=limit, cursor=cursor).to_json()


# --- editing a lead's profile --------------------------------------------------------------

def _clean_profile(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - {"email", "name", "traits"}
    if unknown:
        raise LeadError(422, f"unknown fields: {', '.join(sorted(unknown))}; a lead has email, "
                             "name and traits")
    out: dict[str, Any] = {}
    if "email" in changes:
        email = changes["email"]
        if email is not None:
            if not isinstance(email, str) or not EMAIL.match(email.strip()) \
                    or len(email.strip()) > 320:
                raise LeadError(422, "email must be an address like ada@example.com "
                                     "(at most 320 characters) or null")
            email = email.strip()
        out["email"] = email
    if "name" in changes:
        name = changes["name"]
        if name is not None:
            if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
                raise LeadError(422, "name must be 1-200 characters or null")
            name = name.strip()
        out["name"] = name
    if "traits" in changes:
        traits = changes["traits"]
        if traits is not None and not isinstance(traits, dict):
            raise LeadError(422, "traits must be a JSON object (or null to clear them)")
        out["traits"] = traits
    return out


def update_lead(conn: Connection, app_id: str, fingerprint: str,
                changes: dict[str, Any]) -> dict[str, Any]:
    """Set a lead's email, name and traits. Traits merge key by key (a null value removes a
    key; `traits: null` clears them all). Returns the lead as `search_leads` lists it."""
    clean = _clean_profile(changes)
    row = get_lead(conn, app_id, fingerprint)
    if "traits" in clean:
        patch = clean["traits"]
        merged = {} if patch is None else {**(row.traits or {}), **patch}
        merged = {k: v for k, v in merged.items() if v is not None}
        if len(orjson.dumps(merged)) > MAX_TRAITS_BYTES:
            raise LeadError(422, f"traits must be at most {MAX_TRAITS_BYTES} bytes of JSON")
        clean["traits"] = merged or None
    if clean:
        conn.execute(update(leads).where(leads.c.id == row.id).values(**clean))
    row = get_lead(conn, app_id, fingerprint)
    return lead_json(row)
