"""The Tracker's on-disk queue: a small SQLite file of events not yet accepted by the server.

Events are written here as they are tracked and deleted once the server has them, so a
restart of the process (or of the server) loses nothing. The queue holds at most
`max_events`; when it is full the oldest events are dropped (and a warning logged), so a
long outage cannot fill the disk.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import platformdirs

log = logging.getLogger("growthkit.tracker")

SCHEMA = """
CREATE TABLE IF NOT EXISTS queued (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    not_before REAL NOT NULL DEFAULT 0
)
"""


def default_path(url: str, public_key: str) -> Path:
    """One queue file per server and app, in the user data folder."""
    digest = hashlib.sha256(f"{url.rstrip('/')}\n{public_key}".encode()).hexdigest()[:16]
    return Path(platformdirs.user_data_dir("growthkit")) / "tracker" / f"queue-{digest}.sqlite3"


@dataclass(frozen=True)
class Queued:
    n: int
    id: str
    event: dict[str, Any]


class EventQueue:
    """A bounded FIFO of event JSON objects in a SQLite file, safe across threads."""

    def __init__(self, path: Path, max_events: int):
        if max_events < 1:
            raise ValueError(f"max_queue must be at least 1, not {max_events}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_events = max_events
        self.dropped = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: survives process crashes
        self._db.execute(SCHEMA)
        self._size = self._count()

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM queued").fetchone()[0]

    def __len__(self) -> int:
        with self._lock:
            return self._count()

    def put(self, event: dict[str, Any]) -> None:
        with self._lock:
            if self._size >= self.max_events:
                self._size = self._count()  # other processes may share the file
            if self._size >= self.max_events:
                excess = self._size - self.max_events + 1
                self._db.execute("DELETE FROM queued WHERE n IN (SELECT n FROM queued ORDER BY "
                                 "n LIMIT ?)", (excess,))
                self.dropped += excess
                self._size -= excess
                if self.dropped == excess or self.dropped % 1000 < excess:
                    log.warning("tracker queue %s is full (%d events): dropped the oldest "
                                "(%d dropped so far); is the server reachable?", self.path,
                                self.max_events, self.dropped)
            self._db.execute("INSERT OR IGNORE INTO queued (id, body) VALUES (?, ?)",
                             (event["id"], orjson.dumps(event)))
            self._size += 1

    def take(self, limit: int, now: float) -> list[Queued]:
        """The oldest events due to be sent (not waiting out a Retry-After), at most `limit`."""
        with self._lock:
            rows = self._db.execute("SELECT n, id, body FROM queued WHERE not_before <= ? "
                                    "ORDER BY n LIMIT ?", (now, limit)).fetchall()
        return [Queued(n, eid, orjson.loads(body)) for n, eid, body in rows]

    def due(self, now: float) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM queued WHERE not_before <= ?",
                                    (now,)).fetchone()[0]

    def delete(self, items: list[Queued]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM queued WHERE n = ?", [(q.n,) for q in items])
            self._size = self._count()

    def postpone(self, items: list[Queued], until: float) -> None:
        with self._lock:
            self._db.executemany("UPDATE queued SET not_before = ? WHERE n = ?",
                                 [(until, q.n) for q in items])

    def close(self) -> None:
        with self._lock:
            self._db.close()
