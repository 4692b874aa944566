"""The server's background upkeep: refresh the 15-minute rollups every half minute, and once
a day (first a minute after start) create the coming weeks' partitions (PostgreSQL) and run
retention. Started and stopped by the lifespan.

Both jobs are safe to run from several server processes at once (they serialise on the
rollup watermark row), and each commits in small steps, so stopping mid-way loses nothing.

Ingest comes first: while requests are being written, the refresh takes at most BUSY_SHARE
of the time (on SQLite it holds the one write lock, taking turns with the writer; on
PostgreSQL it uses a core), so the rollups lag a burst and catch up after it. Queries stay
exact meanwhile (they add the rows above the watermark from activities), only slower as the
lag grows: past MAX_LAG_ROWS behind, the refresh stops yielding.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import nullcontext

from sqlalchemy import Engine

from growthkit.core.clock import now_ms
from growthkit.core.partitions import ensure_partitions
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import checkpoint
from growthkit.server.writer import GroupWriter

log = logging.getLogger("growthkit.server.maintenance")

ROLLUP_EVERY_S = 30.0
FIRST_ROLLUP_AFTER_S = 5.0
RETENTION_EVERY_S = 24 * 3600.0
FIRST_RETENTION_AFTER_S = 60.0
CHECKPOINT_EVERY_S = 1.0
SQLITE_CHUNK_ROWS = 1_000
BUSY_CHUNK_S = 0.025  # SQLite, ingest busy: a chunk holds the write lock about this long
MIN_CHUNK_ROWS = 50
SQLITE_PAUSE_S = 0.02  # between chunks when ingest is idle: other writers get the lock
BUSY_SHARE = 0.1
MAX_LAG_ROWS = 1_000_000


class Maintenance:
    def __init__(self, engine: Engine, writer: GroupWriter | None = None):
        self.engine = engine
        self.writer = writer  # whose load the refresh yields to, and whose turn it takes
        self._chunk_started, self._chunk_from = 0.0, 0  # when and at which seq it began
        self._rows_per_s = 10_000.0  # the refresh's pace, measured chunk by chunk
        self._stop = asyncio.Event()
        self._stopping = threading.Event()  # the same, for the jobs on worker threads
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="growthkit-maintenance"))
        if self.engine.dialect.name == "sqlite":
            self._tasks.append(asyncio.create_task(self._checkpoints(),
                                                   name="growthkit-checkpoints"))

    async def stop(self) -> None:
        self._stop.set()
        self._stopping.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=30)
            except TimeoutError:
                log.warning("%s did not stop within 30 s; abandoning it", task.get_name())

    async def _checkpoints(self) -> None:
        """SQLite: checkpoint the WAL every second, off the commit path of the ingest."""
        while await self._sleep(CHECKPOINT_EVERY_S):
            await self._job("checkpoint", lambda: checkpoint(self.engine))

    async def _sleep(self, seconds: float) -> bool:
        """Wait; False once stopping."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0))
            return False
        except TimeoutError:
            return True

    async def _run(self) -> None:
        started = time.monotonic()
        next_rollup = started + FIRST_ROLLUP_AFTER_S
        next_retention = started + FIRST_RETENTION_AFTER_S
        while await self._sleep(min(next_rollup, next_retention) - time.monotonic()):
            now = time.monotonic()
            if now >= next_retention:
                next_retention = now + RETENTION_EVERY_S
                await self._job("partition upkeep", self._partitions)
                await self._job("retention", self._retention)
            if now >= next_rollup:
                next_rollup = now + ROLLUP_EVERY_S
                await self._job("rollup refresh", self._refresh)

    def _refresh(self) -> None:
        # SQLite: taking the writer's turn, a request gets the lock the moment a chunk
        # commits; while requests are being written, chunks are sized to hold it briefly.
        turn = self.writer.turn if self.writer is not None else nullcontext
        sized = {"chunk": self._chunk} if self.engine.dialect.name == "sqlite" else {}
        self._chunk_started, self._chunk_from = time.monotonic(), 0
        refresh_rollups(self.engine, progress=self._pace, turn=turn, **sized)

    def _ingest_busy(self) -> bool:
        return self.writer is not None and self.writer.busy()

    def _chunk(self) -> int:
        """The next chunk's rows on SQLite: SQLITE_CHUNK_ROWS, or while ingest is busy as
        many as the last chunks' pace rolls up in about BUSY_CHUNK_S."""
        if not self._ingest_busy():
            return SQLITE_CHUNK_ROWS
        return max(MIN_CHUNK_ROWS, min(SQLITE_CHUNK_ROWS, int(self._rows_per_s * BUSY_CHUNK_S)))

    def _pace(self, done_seq: int, target_seq: int) -> None:
        """Progress callback between chunks: stop when asked; yield to a busy ingest."""
        self._check_stop()
        took = time.monotonic() - self._chunk_started
        if self._chunk_from and took > 0:
            self._rows_per_s = (done_seq - self._chunk_from) / took
        pause = SQLITE_PAUSE_S if self.engine.dialect.name == "sqlite" else 0.0
        if self._ingest_busy() and target_seq - done_seq < MAX_LAG_ROWS:
            pause = max(pause, took * (1 - BUSY_SHARE) / BUSY_SHARE)
        if pause and self._stopping.wait(pause):
            raise _Stopped
        self._chunk_started, self._chunk_from = time.monotonic(), done_seq

    def _check_stop(self, *_args) -> None:  # noqa: ANN002
        """Progress callback: end a long run between its steps when the server stops."""
        if self._stopping.is_set():
            raise _Stopped

    def _partitions(self) -> None:
        with self.engine.begin() as conn:
            for p in ensure_partitions(conn, now_ms()):
                log.info("partitions: created %s", p.name)

    def _retention(self) -> None:
        for report in run_retention(self.engine, progress=self._check_stop):
            if report.days:
                log.info("retention: app %s rolled up and deleted %d events of %d days",
                         report.app_id, report.events_deleted, report.days)

    async def _job(self, name: str, job) -> None:  # noqa: ANN001
        try:
            await asyncio.to_thread(job)
        except _Stopped:
            pass  # every finished step is committed; the next start carries on
        except Exception:  # a failed run is retried at the next interval
            log.exception("%s failed", name)


class _Stopped(Exception):
    pass
