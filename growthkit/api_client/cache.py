"""The console's local cache: one core-schema SQLite file per server and app, kept in sync.

`LocalCache(client)` opens (or creates) the file for the client's server and app in the
user data folder. `sync()` fetches what is new by cursor — activities and credit
operations after the last row seen, and the leads that new rows name — and `append()`
adds events from the live stream. `source()` is a LocalSource on the file: it answers
while the server is unreachable. The cache is bounded by age and size: events older than
`max_age` (default 30 days), and the oldest days beyond `max_bytes` (default 1 GiB), are
rolled into daily aggregates and deleted by core's retention, as the server does with its
own `retentionDays`, so old ranges still answer from the aggregates.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from platformdirs import user_data_dir

from growthkit.api_client import bulk
from growthkit.api_client.errors import Cancelled, ServerUnavailable
from growthkit.api_client.export import _cancel_check
from growthkit.api_client.replica import Replica, sqlite_url
from growthkit.api_client.snapshot import SnapshotProgress, copy_leads
from growthkit.core import cursors
from growthkit.core.clock import now_ms, parse_time, to_iso
from growthkit.core.retention import run_retention
from growthkit.core.store import open_engine
from growthkit.core.timezones import DAY_MS

if TYPE_CHECKING:
    from growthkit.api_client.client import Client
    from growthkit.api_client.local import LocalSource

DEFAULT_MAX_AGE = timedelta(days=30)
DEFAULT_MAX_BYTES = 1024**3
INDEX = "index.json"


def cache_dir() -> Path:
    return Path(user_data_dir("growthkit")) / "cache"


def _key_id(url: str, key: str) -> str:
    # Names the cache of a key without storing the key (or anything it can be recovered from).
    return hashlib.sha256(f"{url}\n{key}".encode()).hexdigest()[:24]


def _slug(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[-1]).strip("-")[:80]


@dataclass(frozen=True)
class SyncResult:
    """What one sync fetched."""

    activities: int
    leads: int
    credit_operations: int
    deleted: int  # events rolled into daily aggregates by the age and size bounds

    def to_json(self) -> dict[str, int]:
        return {"activities": self.activities, "leads": self.leads,
                "creditOperations": self.credit_operations, "deleted": self.deleted}


class LocalCache:
    """The local copy of the client's app (see the module docstring).

    `path`: the file (default: one per server and app under `cache_dir()`). Opening
    needs the server only the first time: after that the key's cache is found offline.
    """

    def __init__(self, client: Client, *, path: str | Path | None = None,
                 max_age: timedelta = DEFAULT_MAX_AGE, max_bytes: int = DEFAULT_MAX_BYTES):
        if max_age < timedelta(days=1):
            raise ValueError("max_age must be at least one day")
        if max_bytes < 1024**2:
            raise ValueError("max_bytes must be at least 1 MiB")
        self.client = client
        self.max_age = max_age
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()  # one writer at a time: sync and append
        app = self._app()
        self.app_id: str = app["id"]
        if path is None and "settings" not in app:
            path = self._index()[_key_id(client.url, client._t.key)]["path"]
        self.path = Path(path) if path else cache_dir() / f"{_slug(client.url)}-{self.app_id}.db"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._replica = Replica(self.path, self.app_id)
        self._replica.enable_search()
        if "settings" in app:  # online: what the server says now
            self._replica.write_app(app)
            self._replica.set_meta(kind="cache", format=1, server=client.url,
                                   appId=self.app_id, appName=app["name"])
            self._remember()

    # -- which app, online or not ------------------------------------------------------------

    def _index(self) -> dict[str, Any]:
        path = cache_dir() / INDEX
        return orjson.loads(path.read_bytes()) if path.exists() else {}

    def _remember(self) -> None:
        index = self._index()
        key = _key_id(self.client.url, self.client._t.key)
        if index.get(key, {}).get("path") != str(self.path):
            index[key] = {"appId": self.app_id, "path": str(self.path)}
            cache_dir().mkdir(parents=True, exist_ok=True)
            # Written whole and renamed: a reader never sees half an index.
            temp = cache_dir() / f".{INDEX}.{os.getpid()}"
            temp.write_bytes(orjson.dumps(index, option=orjson.OPT_INDENT_2))
            os.replace(temp, cache_dir() / INDEX)

    def _app(self) -> dict[str, Any]:
        try:
            return self.client._get("/app")
        except ServerUnavailable:
            known = self._index().get(_key_id(self.client.url, self.client._t.key))
            if known is None:
                raise
            return {"id": known["appId"]}

    # -- reading ---------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return self._replica.meta()

    def source(self) -> LocalSource:
        """A LocalSource on the cache (default ranges end at the wall clock)."""
        from growthkit.api_client.local import LocalSource

        return LocalSource(self.path)

    def search(self, text: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """Newest activities whose event name or properties contain `text` (any case), from
        the full-text index: StoredActivity dicts, as the API answers them."""
        from growthkit.core.activities import stored_activity

        text = text.strip()
        if len(text) < 3:
            raise ValueError("search: at least 3 characters (the index is of trigrams); use "
                             "source().activities(search=...) for shorter text")
        phrase = '"' + text.replace('"', '""') + '"'
        with self._lock:
            cur = self._replica.conn.execute(
                "SELECT a.* FROM activities a JOIN activities_fts f ON f.rowid = a.seq "
                "WHERE activities_fts MATCH ? ORDER BY a.timestamp DESC, a.seq DESC LIMIT ?",
                (phrase, int(limit)))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        return [stored_activity(_Row(dict(zip(names, r, strict=True)))) for r in rows]

    # -- writing ---------------------------------------------------------------------------

    def append(self, activities: Iterable[Any]) -> int:
        """Add activities (StoredActivity dicts or results with `to_json()`, e.g. from the
        live stream); a row already cached is replaced. Returns how many were written."""
        rows = []
        for item in activities:
            data = item.to_json() if hasattr(item, "to_json") else item
            rows.append([int(data["seq"]), data["id"], data["fingerprintId"],
                         data["eventName"], _text(data.get("properties")),
                         _text(data.get("context") or {}), data["sessionId"],
                         parse_time(data["timestamp"]), parse_time(data["receivedAt"])])
        if rows:
            with self._lock:
                self._replica.write_activities(rows)
        return len(rows)

    def sync(self, progress: SnapshotProgress | None = None, cancel: Any = None) -> SyncResult:
        """Fetch what is new since the last sync; a cancel (Cancelled) keeps what was read.

        `progress(stage, done, total)` as for snapshots."""
        report = progress or (lambda stage, done, total: None)
        cancelled = _cancel_check(cancel)
        with self._lock:
            meta = self._replica.meta()
            self._replica.write_app(self.client._get("/app"))
            start = now_ms()
            touched: set[str] = set()
            n_acts = self._sync_activities(meta, touched, report, cancelled)
            n_ops = self._sync_credits(meta, touched, cancelled)
            leads, _ = copy_leads(self.client, self._replica, sorted(touched), report,
                                  cancelled, ledgers=False)
            self._replica.write_aggregates(bulk.request(self.client, "GET", "/aggregates"))
            settled = cursors.decode("bulk:activities",
                                     self._replica.meta().get("activitiesCursor"), 1)
            self._replica.rebuild_rollups(upto=settled[0] if settled else 0)
            deleted = self._bound(start)
            self._replica.set_meta(lastSync=to_iso(start))
        return SyncResult(n_acts, leads, n_ops, deleted)

    def _sync_activities(self, meta: dict[str, Any], touched: set[str],
                         report: SnapshotProgress, cancelled: Callable[[], bool]) -> int:
        cursor = meta.get("activitiesCursor")
        # Rows older than the age bound never come over (they would be rolled up at once).
        params = [("from", str(now_ms() - _ms(self.max_age)))]
        first = [*params, ("count", "true"), ("limit", str(bulk.PAGE_ROWS)),
                 *([("cursor", cursor)] if cursor else [])]
        page = bulk.request(self.client, "GET", "/activities", params=first)
        total, done = page.get("remaining"), 0
        while True:
            self._replica.write_activities(page["rows"])
            self._replica.set_meta(activitiesCursor=page["syncCursor"])
            touched.update(r[2] for r in page["rows"])
            done += len(page["rows"])
            report("activities", done, total)
            if not page["nextCursor"]:
                return done
            if cancelled():
                raise Cancelled(f"sync cancelled after {done} activities; they are kept")
            page = bulk.request(self.client, "GET", "/activities", params=[
                *params, ("limit", str(bulk.PAGE_ROWS)), ("cursor", page["nextCursor"])])

    def _sync_credits(self, meta: dict[str, Any], touched: set[str],
                      cancelled: Callable[[], bool]) -> int:
        done = 0
        for page in bulk.pages(self.client, "POST", "/credit-operations",
                               cursor=meta.get("creditsCursor")):
            touched.update(r[2] for r in page["rows"])
            done += len(page["rows"])
            self._replica.write_credits(page["rows"])
            self._replica.set_meta(creditsCursor=page["syncCursor"])
            if cancelled():
                raise Cancelled(f"sync cancelled after {done} credit operations; kept")
        return done

    def _bound(self, now: int) -> int:
        """Roll up and delete what is past the age bound, then the oldest days past the size
        bound (core's retention, shifted to the cache's own bounds)."""
        engine = open_engine(sqlite_url(self.path))
        try:
            days = int(self._retention_days(engine))
            keep = _ms(self.max_age)
            # Retention takes deleted events off their leads' counts; a cached lead keeps
            # the server's count (what the server still stores), so put it back after.
            counts = self._replica.conn.execute("SELECT id, events FROM leads").fetchall()
            deleted = 0
            while True:
                # run_retention cuts at floor(now - retentionDays): shift `now` to cut there.
                shifted = now - keep + days * DAY_MS
                for report in run_retention(engine, app=self.app_id, now=shifted):
                    deleted += report.events_deleted
                if self._replica.used_bytes() <= self.max_bytes or keep <= DAY_MS:
                    break
                keep -= DAY_MS
            if deleted:
                with self._replica.db.atomic():
                    self._replica.conn.executemany("UPDATE leads SET events = ? WHERE id = ?",
                                                   [(n, i) for i, n in counts])
            return deleted
        finally:
            engine.dispose()

    def _retention_days(self, engine: Any) -> int:
        from growthkit.core.apps import get_app

        with engine.connect() as conn:
            return get_app(conn, self.app_id).setting("retentionDays")

    def close(self) -> None:
        self._replica.close()


class _Row:
    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


def _text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)
