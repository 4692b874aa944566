"""A local copy of one app: a SQLite file in core's schema filled from the server's bulk reads.

Offline snapshots and the console's cache are both such files. The file is created and
migrated by core's migrations, so core's queries (LocalSource) run on it unchanged; rows are
written with sqlite-utils (bulk inserts that upsert by primary key). A `meta` table says what
the copy is: its kind, the server and app it came from, the range and when it was taken.
The app row carries the app's id, name and settings, never its keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from growthkit.core.clock import now_ms, parse_time
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import migrate, open_engine

META_TABLE = "meta"
ACTIVITY_COLUMNS = ["seq", "id", "app_id", "fingerprint_id", "event_name", "properties",
                    "context", "session_id", "timestamp", "received_at"]
LEAD_COLUMNS = ["id", "app_id", "fingerprint", "first_seen", "last_seen", "email", "name",
                "traits", "events"]
CREDIT_COLUMNS = ["seq", "id", "app_id", "fingerprint_id", "action", "amount",
                  "balance_after", "reason", "timestamp"]
COUNT_COLUMNS = ["app_id", "bucket", "event_name", "events"]
DAILY_COLUMNS = ["app_id", "day", "event_name", "events", "users", "sessions"]
# Rows per INSERT statement (sqlite-utils builds multi-row statements).
BATCH = 1000
CACHE_KIB = 256 * 1024


def sqlite_url(path: Path, *, read_only: bool = False) -> str:
    if read_only:
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    """The copy's metadata (empty for a file that is not a copy)."""
    try:
        rows = conn.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()
    except sqlite3.OperationalError:
        return {}
    return {key: orjson.loads(value) for key, value in rows}


class Replica:
    """Writes one app's rows into a core-schema SQLite file at `path` (created if new).

    `scratch`: the file is being built under a temporary name and is thrown away on any
    failure, so it is written without a journal and without waiting for the disk.
    """

    def __init__(self, path: Path, app_id: str, *, scratch: bool = False):
        self.path = Path(path)
        self.app_id = app_id
        engine = open_engine(sqlite_url(self.path))
        try:
            migrate(engine)
        finally:
            engine.dispose()
        # The cache is written from worker threads (one at a time, under its lock).
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.db = sqlite_utils.Database(self.conn)
        # A large page cache: the unique (app, event id) index takes random inserts.
        self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        if scratch:
            self.conn.execute("PRAGMA journal_mode=OFF")
            self.conn.execute("PRAGMA synchronous=OFF")
        else:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} "
                        "(key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._dropped: list[str] = []

    def close(self) -> None:
        self.conn.close()

    # -- metadata and the app ----------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return read_meta(self.conn)

    def schema_revision(self) -> str | None:
        """The core migration the file is at (Alembic's version table)."""
        row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None

    def set_meta(self, **values: Any) -> None:
        with self.db.atomic():
            self.db[META_TABLE].insert_all(
                ({"key": k, "value": orjson.dumps(v).decode()} for k, v in values.items()),
                pk="key", replace=True)

    def write_app(self, app: dict[str, Any]) -> None:
        """The app's id, name and settings (from GET /api/v1/app); its keys stay behind."""
        created = app.get("createdAt")
        with self.db.atomic():
            self.db["apps"].insert({
                "id": app["id"], "name": app["name"],
                # Not keys: the columns are required and unique, a copy has neither key.
                "public_key": "", "secret_key_hash": "",
                "settings": orjson.dumps(app.get("settings") or {}).decode(),
                "created_at": parse_time(created) if created else now_ms(),
            }, pk="id", replace=True)

    # -- rows ------------------------------------------------------------------------------

    def _upsert(self, table: str, columns: list[str], rows: Iterable[Sequence[Any]]) -> None:
        self.db[table].insert_all([columns, *rows], replace=True, batch_size=BATCH)

    def write_activities(self, rows: list[list[Any]], *, new: bool = False) -> None:
        """Rows of a bulk activities page (ACTIVITY_COLUMNS of core.bulk, app left out).

        `new`: the rows are known not to be in the file yet (a snapshot's single walk), so
        a plain INSERT does (the driver's executemany, the fastest bulk path SQLite has)."""
        app = self.app_id
        if new:
            with self.db.atomic():
                self.conn.executemany(self._insert_activity, rows)
            return
        with self.db.atomic():
            self._upsert("activities", ACTIVITY_COLUMNS, ([r[0], r[1], app, *r[2:]]
                                                          for r in rows))

    @property
    def _insert_activity(self) -> str:
        columns = ", ".join(ACTIVITY_COLUMNS)
        app = self.app_id.replace("'", "''")
        return (f"INSERT INTO activities ({columns}) VALUES (?, ?, '{app}', "
                f"{', '.join('?' * (len(ACTIVITY_COLUMNS) - 3))})")

    def write_leads(self, rows: list[list[Any]]) -> None:
        app = self.app_id
        with self.db.atomic():
            self._upsert("leads", LEAD_COLUMNS, ([r[0], app, *r[1:]] for r in rows))

    def write_credits(self, rows: list[list[Any]]) -> None:
        app = self.app_id
        with self.db.atomic():
            self._upsert("credit_operations", CREDIT_COLUMNS, ([r[0], r[1], app, *r[2:]]
                                                               for r in rows))

    def write_aggregates(self, data: dict[str, Any]) -> None:
        """What retention kept before its cut (GET /api/v1/bulk/aggregates), and the cut."""
        app = self.app_id
        cut = int(data.get("rolledUntil") or 0)
        with self.db.atomic():
            self._upsert("daily_rollups", DAILY_COLUMNS,
                         ([app, *r] for r in data["daily"]["rows"]))
            for table, part in (("rollup_counts", "counts15m"), ("rollup_hourly", "countsHourly")):
                self._upsert(table, COUNT_COLUMNS, ([app, *r] for r in data[part]["rows"]))
            if cut:
                self.db["retention_state"].insert(
                    {"app_id": app, "rolled_until": cut, "ran_at": now_ms()},
                    pk="app_id", replace=True)

    # -- full-text search --------------------------------------------------------------------

    def enable_search(self) -> None:
        """An FTS5 index (trigram: any substring of 3+ characters, any case) over event names
        and properties, kept in step with the table by triggers."""
        if not self.db["activities"].detect_fts():
            self.db["activities"].enable_fts(["event_name", "properties"], tokenize="trigram",
                                             create_triggers=True)

    def used_bytes(self) -> int:
        """Bytes of the file in use (free pages left by deletes are reused, not counted)."""
        pages, free, size = (self.conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size

    # -- bulk loading ------------------------------------------------------------------------

    def drop_activity_indexes(self) -> None:
        """Before loading many rows into an empty file: one build afterwards is several times
        faster than keeping the secondary indexes up to date row by row."""
        found = self.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                                  "AND tbl_name = 'activities' AND sql IS NOT NULL").fetchall()
        for name, sql in found:
            self.conn.execute(f"DROP INDEX {name}")
            self._dropped.append(sql)

    def restore_indexes(self) -> None:
        while self._dropped:
            self.conn.execute(self._dropped.pop())

    def rebuild_rollups(self, upto: int | None = None) -> int:
        """Count the local activities not yet in the rollups (core's incremental refresh),
        those up to seq `upto` when given."""
        engine = open_engine(sqlite_url(self.path))
        try:
            return refresh_rollups(engine, settle_ms=0, chunk=10**12, upto=upto).rows
        finally:
            engine.dispose()

    def finish(self) -> None:
        """Planner statistics, and the write-ahead log folded in: one self-contained file."""
        self.restore_indexes()
        self.conn.execute("ANALYZE")
        self.conn.commit()
        self.conn.execute("PRAGMA journal_mode=DELETE")
