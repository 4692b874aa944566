"""Leads: search and sort with keyset paging, one lead's history, profile edits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from sqlalchemy import Connection, column, func, or_, select, table, update
from sqlalchemy import text as text_sql

from growthkit.core import cursors, feed
from growthkit.core.activities import ActivityPage
from growthkit.core.apps import App
from growthkit.core.clock import to_iso
from growthkit.core.errors import NotFound, QueryError
from growthkit.core.filters import ActivityFilter, escape_like
from growthkit.core.jsonlimits import JsonLimitError, check_text, check_value
from growthkit.core.params import check_choice, check_limit, text_param
from growthkit.core.results import Result, result
from growthkit.core.schema import leads

SORTS = {"lastSeen": leads.c.last_seen, "firstSeen": leads.c.first_seen,
         "events": leads.c.events}
ORDERS = ("asc", "desc")
MAX_LIMIT = 1000
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_TRAITS_BYTES = 16 * 1024


@result
class Lead(Result):
    """A lead as listings and edits answer it."""

    fingerprint: str
    email: str | None
    name: str | None
    traits: dict[str, Any]
    first_seen: str
    last_seen: str
    events: int

    @classmethod
    def from_row(cls, row: Any) -> Lead:
        return cls(row.fingerprint, row.email, row.name, row.traits or {},
                   to_iso(row.first_seen), to_iso(row.last_seen), row.events)


@result
class LeadPage(Result):
    data: list[Lead]
    next_cursor: str | None


@dataclass
class LeadsQuery:
    """GET /leads: `q` (fingerprint prefix, or part of email or name; any case), sort,
    order, page size and cursor."""

    q: str | None = None
    sort: str = "lastSeen"
    order: str = "desc"
    limit: int = 50
    cursor: str | None = None


@dataclass
class LeadActivitiesQuery:
    """GET /leads/{fingerprint}/activities: the feed's filter, order and paging for one lead
    (the filter's fingerprint is set from `fingerprint`)."""

    fingerprint: str
    filter: ActivityFilter = field(default_factory=ActivityFilter)
    order: str = "desc"
    limit: int = 100
    cursor: str | None = None


def check_fingerprint(fingerprint: str) -> str:
    """A fingerprint as ingest accepts them: 1-128 characters, no NUL."""
    if not isinstance(fingerprint, str) or not 1 <= len(fingerprint) <= 128:
        raise QueryError("fingerprint", "fingerprint must be 1-128 characters")
    if "\x00" in fingerprint:
        raise QueryError("fingerprint", "fingerprint: must not contain the NUL character "
                                        "(\\u0000)")
    return fingerprint


def get_lead(conn: Connection, app_id: str, fingerprint: str) -> Any:
    """The lead's row; NotFound when the app has no such lead."""
    check_fingerprint(fingerprint)
    row = conn.execute(select(leads).where(leads.c.app_id == app_id,
                                           leads.c.fingerprint == fingerprint)).first()
    if row is None:
        raise NotFound(f"no lead with fingerprint {fingerprint!r} in this app", "fingerprint")
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


def list_leads(conn: Connection, app: App, query: LeadsQuery) -> LeadPage:
    """Leads matching `query.q`, sorted and keyset-paged."""
    sort = check_choice(query.sort, tuple(SORTS), "sort")
    order = check_choice(query.order, ORDERS, "order")
    limit = check_limit(query.limit, MAX_LIMIT)
    q = text_param(query.q, "q")
    kind = f"leads:{sort}:{order}"
    after = cursors.decode(kind, query.cursor, 2)
    where = [leads.c.app_id == app.id]
    if q:
        text = escape_like(q.lower())
        where.append(or_(func.lower(leads.c.fingerprint).like(text + "%", escape="\\"),
                         func.lower(leads.c.email).like(f"%{text}%", escape="\\"),
                         func.lower(leads.c.name).like(f"%{text}%", escape="\\")))
        candidates = _indexed_candidates(conn, q)
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
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = cursors.encode(kind, [getattr(last, key.name), last.id])
    return LeadPage([Lead.from_row(r) for r in rows], next_cursor)


def lead_activities(conn: Connection, app: App, query: LeadActivitiesQuery) -> ActivityPage:
    """A lead's history: the activity feed for one lead; NotFound for a lead the app does
    not have."""
    get_lead(conn, app.id, query.fingerprint)
    flt = replace(query.filter, fingerprint=query.fingerprint)
    return feed.list_activities(conn, app, feed.ActivitiesQuery(
        flt, order=query.order, limit=query.limit, cursor=query.cursor))


# --- editing a lead's profile --------------------------------------------------------------

def _clean_profile(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - {"email", "name", "traits"}
    if unknown:
        raise QueryError(sorted(unknown)[0], f"unknown fields: {', '.join(sorted(unknown))}; "
                                             "a lead has email, name and traits")
    out: dict[str, Any] = {}
    if "email" in changes:
        email = changes["email"]
        if email is not None:
            if not isinstance(email, str) or not EMAIL.match(email.strip()) \
                    or len(email.strip()) > 320:
                raise QueryError("email", "email must be an address like ada@example.com "
                                     "(at most 320 characters) or null")
            email = email.strip()
        out["email"] = email
    if "name" in changes:
        name = changes["name"]
        if name is not None:
            if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
                raise QueryError("name", "name must be 1-200 characters or null")
            name = name.strip()
        out["name"] = name
    if "traits" in changes:
        traits = changes["traits"]
        if traits is not None and not isinstance(traits, dict):
            raise QueryError("traits", "traits must be a JSON object (or null to clear them)")
        out["traits"] = traits
    return out


def update_lead(conn: Connection, app_id: str, fingerprint: str,
                changes: dict[str, Any]) -> Lead:
    """Set a lead's email, name and traits, in the caller's write transaction. Traits merge
    key by key (a null value removes a key; `traits: null` clears them all)."""
    try:  # values both stores can hold, checked before the write (as at ingest)
        for name in ("email", "name"):
            if isinstance(changes.get(name), str):
                check_text(changes[name], name)
        check_value(changes.get("traits"), "traits")
    except JsonLimitError as exc:
        raise QueryError("traits", str(exc)) from None
    clean = _clean_profile(changes)
    row = get_lead(conn, app_id, fingerprint)
    if "traits" in clean:
        patch = clean["traits"]
        merged = {} if patch is None else {**(row.traits or {}), **patch}
        merged = {k: v for k, v in merged.items() if v is not None}
        if len(orjson.dumps(merged)) > MAX_TRAITS_BYTES:
            raise QueryError("traits", f"traits must be at most {MAX_TRAITS_BYTES} bytes of "
                                       "JSON")
        clean["traits"] = merged or None
    if clean:
        conn.execute(update(leads).where(leads.c.id == row.id).values(**clean))
    return Lead.from_row(get_lead(conn, app_id, fingerprint))
