"""Storing accepted events: de-duplication by id, server-side sessions, lead upserts.

`write_batches` stores many requests' events in one transaction (the server's group commit)
and reports per request which events were new and which were duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, select

from growthkit.core.events import Event
from growthkit.core.schema import leads

SESSION_GAP_MS = 30 * 60 * 1000
CHUNK = 500


@dataclass
class BatchWrite:
    """One request's accepted events for one app."""

    app_id: str
    events: Sequence[Event]


@dataclass
class WriteResult:
    stored: list[Event]
    duplicates: int


LEAD_SESSIONS = "SELECT fingerprint, last_session_id, last_event_at FROM leads WHERE app_id = "
PG_LEAD_SESSIONS = LEAD_SESSIONS + "%(app)s AND fingerprint = ANY(%(fps)b::varchar[])"
SQLITE_LEAD_SESSIONS = LEAD_SESSIONS + "? AND fingerprint IN ({})"


def _assign_sessions(conn: Connection, batches: Sequence[BatchWrite]) -> dict:
    """Give events without a sessionId the lead's current session (30 min inactivity rule).

    Returns the lead session state to persist: {(app, fp): (session_id, last_event_at)}.
    """
    needing: dict[str, set[str]] = {}
    for b in batches:
        for e in b.events:
            if e.session_id is None:
                needing.setdefault(b.app_id, set()).add(e.fingerprint)
    state: dict[tuple[str, str], tuple[str | None, int | None]] = {}
    # Per app, `app_id = ? AND fingerprint IN (…)`: the unique index answers it on both
    # stores (SQLite scans the whole table for a row-value IN, so ingest slowed down as
    # leads accumulated). Plain SQL: building the select in SQLAlchemy cost more than
    # running it.
    for app_id, wanted in needing.items():
        fingerprints = sorted(wanted)
        for i in range(0, len(fingerprints), CHUNK):
            part = fingerprints[i:i + CHUNK]
            if conn.dialect.name == "postgresql":
                rows = conn.exec_driver_sql(PG_LEAD_SESSIONS, {"app": app_id, "fps": part})
            else:
                rows = conn.exec_driver_sql(
                    SQLITE_LEAD_SESSIONS.format(",".join("?" * len(part))), (app_id, *part))
            for fingerprint, session, last in rows:
                state[(app_id, fingerprint)] = (session, last)
    pending = sorted(((b.app_id, e) for b in batches for e in b.events if e.session_id is None),
                     key=lambda item: item[1].timestamp)
    for app_id, ev in pending:
        key = (app_id, ev.fingerprint)
        session, last = state.get(key, (None, None))
        if session is None or last is None or abs(ev.timestamp - last) > SESSION_GAP_MS:
            session = "s_" + uuid.uuid4().hex
        ev.session_id = session
        state[key] = (session, max(ev.timestamp, last or ev.timestamp))
    return state


def _upsert_leads(conn: Connection, batches: Sequence[BatchWrite], sessions: dict,
                  inserted: dict) -> None:
    stored: dict[tuple[str, str], int] = {}
    for b in batches:
        for e in b.events:
            if (b.app_id, e.id) in inserted:
                stored[(b.app_id, e.fingerprint)] = stored.get((b.app_id, e.fingerprint), 0) + 1
    # Only stored events move a lead: a duplicate (a retry, perhaps with another timestamp)
    # leaves its first and last seen as they were.
    spans: dict[tuple[str, str], list[int]] = {}
    for b in batches:
        for e in b.events:
            if (b.app_id, e.id) not in inserted:
                continue
            span = spans.setdefault((b.app_id, e.fingerprint), [e.timestamp, e.timestamp])
            span[0] = min(span[0], e.timestamp)
            span[1] = max(span[1], e.timestamp)
    if not spans:
        return
    # Sorted keys: concurrent writers lock lead rows in the same order (no deadlocks).
    rows = []
    for (app_id, fp), (first, last) in sorted(spans.items()):
        session, last_event = sessions.get((app_id, fp), (None, None))
        rows.append({"app_id": app_id, "fingerprint": fp, "first_seen": first, "last_seen": last,
                     "last_session_id": session, "last_event_at": last_event,
                     "events": stored.get((app_id, fp), 0)})
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(PG_UPSERT_LEADS, {
            name: [r[name] for r in rows] for name in LEAD_COLUMNS})
    else:
        conn.exec_driver_sql(SQLITE_UPSERT_LEADS, [tuple(r.values()) for r in rows])


# A lead row per (app, fingerprint): the span of its events, its current server-assigned
# session and its stored-event count. Plain SQL on both stores (building the statement in
# SQLAlchemy cost ~1 ms per group); PostgreSQL takes the rows as binary column arrays.
LEAD_COLUMNS = ("app_id", "fingerprint", "first_seen", "last_seen", "last_session_id",
                "last_event_at", "events")
LEAD_UPDATE = """ON CONFLICT (app_id, fingerprint) DO UPDATE SET
    first_seen = {least}(leads.first_seen, excluded.first_seen),
    last_seen = {greatest}(leads.last_seen, excluded.last_seen),
    last_session_id = coalesce(excluded.last_session_id, leads.last_session_id),
    last_event_at = coalesce(excluded.last_event_at, leads.last_event_at),
    events = leads.events + excluded.events"""
SQLITE_UPSERT_LEADS = (f"INSERT INTO leads ({', '.join(LEAD_COLUMNS)}) VALUES (?,?,?,?,?,?,?) "
                       + LEAD_UPDATE.format(least="min", greatest="max"))
PG_UPSERT_LEADS = f"""
INSERT INTO leads ({', '.join(LEAD_COLUMNS)})
SELECT * FROM unnest(%(app_id)b::varchar[], %(fingerprint)b::varchar[],
                     %(first_seen)b::bigint[], %(last_seen)b::bigint[],
                     %(last_session_id)b::varchar[], %(last_event_at)b::bigint[],
                     %(events)b::bigint[])
{LEAD_UPDATE.format(least="least", greatest="greatest")}
"""


# PostgreSQL: one array per column instead of thousands of placeholders, which keeps the
# statement constant (psycopg parses a long multi-VALUES statement anew each time). The
# arrays go in binary format (%(…)b): psycopg writes an array's text form in Python with a
# regex escape per quote, which for the JSON columns was ~300 µs per 10-event request.
# The ids are claimed in activity_ids first (activities is partitioned by time, so it
# cannot hold a unique (app_id, id) index; see core/partitions.py): a concurrent writer of
# the same id waits for ours to commit, then skips it. Only claimed events are stored,
# in the batch's order (their seqs follow it).
PG_INSERT = """
WITH batch AS (
  SELECT * FROM unnest(%(id)b::varchar[], %(app_id)b::varchar[], %(fingerprint_id)b::varchar[],
                       %(event_name)b::varchar[], %(properties)b::jsonb[], %(context)b::jsonb[],
                       %(session_id)b::varchar[], %(timestamp)b::bigint[],
                       %(received_at)b::bigint[]) WITH ORDINALITY
       AS b(id, app_id, fingerprint_id, event_name, properties, context, session_id,
            timestamp, received_at, n)
), claimed AS (
  INSERT INTO activity_ids (app_id, id) SELECT app_id, id FROM batch
  ON CONFLICT DO NOTHING RETURNING app_id, id
)
INSERT INTO activities (id, app_id, fingerprint_id, event_name, properties, context,
                        session_id, timestamp, received_at)
SELECT b.id, b.app_id, b.fingerprint_id, b.event_name, b.properties, b.context, b.session_id,
       b.timestamp, b.received_at
FROM batch b JOIN claimed c ON c.app_id = b.app_id AND c.id = b.id
ORDER BY b.n
RETURNING app_id, id, seq
"""


def _json_texts(values: list) -> list[str | None]:
    """JSON text of each value; a context shared by a request's events is encoded once."""
    done: dict[int, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None:
            out.append(None)
        elif (text := done.get(id(value))) is None:
            text = done[id(value)] = orjson.dumps(value).decode()
            out.append(text)
        else:
            out.append(text)
    return out


# Several server processes write at once: a transaction takes its apps' locks before
# drawing seqs and holds them to COMMIT, so an app's events commit in seq order (as SQLite's
# one write lock gives by itself). The live stream relies on it: everything at or below a
# committed seq is committed, so a stream's last id is an exact place to resume from.
PG_APP_WRITE_LOCK = "SELECT pg_advisory_xact_lock(7401, hashtext(%(app_id)s))"


def lock_app_writes(conn: Connection, app_id: str) -> None:
    """PostgreSQL: hold the app's write lock until the end of the transaction."""
    conn.exec_driver_sql(PG_APP_WRITE_LOCK, {"app_id": app_id})


def _insert_activities(conn: Connection, rows: list[tuple[str, Event]]) -> dict:
    """Insert new events, skipping ids already stored; {(app, event id): seq} of inserted."""
    inserted: dict[tuple[str, str], int] = {}
    if conn.dialect.name == "postgresql":
        for app_id in sorted({a for a, _ in rows}):  # one order everywhere: no deadlock
            lock_app_writes(conn, app_id)
        for i in range(0, len(rows), 5000):
            chunk = rows[i:i + 5000]
            params = {
                "id": [e.id for _, e in chunk], "app_id": [a for a, _ in chunk],
                "fingerprint_id": [e.fingerprint for _, e in chunk],
                "event_name": [e.event_name for _, e in chunk],
                "properties": _json_texts([e.properties for _, e in chunk]),
                "context": _json_texts([e.context for _, e in chunk]),
                "session_id": [e.session_id for _, e in chunk],
                "timestamp": [e.timestamp for _, e in chunk],
                "received_at": [e.received_at for _, e in chunk],
            }
            result = conn.exec_driver_sql(PG_INSERT, params)
            inserted.update(((r.app_id, r.id), r.seq) for r in result)
        return inserted
    return _insert_sqlite(conn, rows)


SQLITE_INSERT = ("INSERT INTO activities (id, app_id, fingerprint_id, event_name, properties, "
                 "context, session_id, timestamp, received_at) VALUES (?,?,?,?,?,?,?,?,?)")


def _insert_sqlite(conn: Connection, rows: list[tuple[str, Event]]) -> dict:
    """SQLite: look up the ids first, then one executemany of the new rows.

    The transaction holds SQLite's write lock from its first write on, so nothing else can
    insert in between, and each new rowid is one more than the largest: the new rows get
    seq last-n+1 … last, in order. A plain INSERT (no ON CONFLICT) would fail loudly if that
    reasoning were ever wrong, rather than hand out wrong seqs.
    """
    existing: set[tuple[str, str]] = set()
    by_app: dict[str, list[str]] = {}
    for app_id, e in rows:
        by_app.setdefault(app_id, []).append(e.id)
    for app_id, ids in by_app.items():
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            found = conn.exec_driver_sql(
                "SELECT id FROM activities WHERE app_id = ? AND id IN "
                f"({','.join('?' * len(part))})", (app_id, *part))
            existing.update((app_id, r[0]) for r in found)
    new = [(a, e) for a, e in rows if (a, e.id) not in existing]
    if not new:
        return {}
    conn.exec_driver_sql(SQLITE_INSERT, [
        (e.id, a, e.fingerprint, e.event_name, props, context, e.session_id, e.timestamp,
         e.received_at)
        for (a, e), props, context in zip(new, _json_texts([e.properties for _, e in new]),
                                          _json_texts([e.context for _, e in new]), strict=True)])
    last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar()
    first = last - len(new) + 1
    return {(a, e.id): first + n for n, (a, e) in enumerate(new)}


def write_batches(conn: Connection, batches: Sequence[BatchWrite]) -> list[WriteResult]:
    """Store the batches' events in the caller's transaction; duplicates are skipped.

    An event id already stored for the app (or earlier in these batches) is a duplicate.
    """
    sessions = _assign_sessions(conn, batches)
    seen: set[tuple[str, str]] = set()
    fresh: list[tuple[int, Event]] = []
    for n, b in enumerate(batches):
        for e in b.events:
            if (b.app_id, e.id) not in seen:
                seen.add((b.app_id, e.id))
                fresh.append((n, e))
    inserted = _insert_activities(conn, [(batches[n].app_id, e) for n, e in fresh])
    _upsert_leads(conn, batches, sessions, inserted)
    results = [WriteResult(stored=[], duplicates=0) for _ in batches]
    claimed: set[tuple[str, str]] = set()
    for n, b in enumerate(batches):
        for e in b.events:
            key = (b.app_id, e.id)
            if key in inserted and key not in claimed:
                claimed.add(key)
                e.seq = inserted[key]
                results[n].stored.append(e)
            else:
                results[n].duplicates += 1
    return results


def known_fingerprints(conn: Connection, app_id: str, fingerprints: Sequence[str]) -> set[str]:
    """Which of these fingerprints are already leads of the app."""
    known: set[str] = set()
    for i in range(0, len(fingerprints), CHUNK):
        rows = conn.execute(select(leads.c.fingerprint).where(
            leads.c.app_id == app_id, leads.c.fingerprint.in_(fingerprints[i:i + CHUNK])))
        known.update(r.fingerprint for r in rows)
    return known


def store_events(conn: Connection, app_id: str, events: Sequence[Event]) -> WriteResult:
    """Store one request's events (its own transaction is the caller's)."""
    return write_batches(conn, [BatchWrite(app_id, events)])[0]
