"""The server's background upkeep: refresh the 15-minute rollups every half minute, and once
a day (first a minute after start) create the coming weeks' partitions (PostgreSQL) and run
retention. Started and stopped by the lifespan.

Both jobs are safe to run from several server processes at once (they serialise on the
rollup watermark row), and each commits in small steps, so stopping mid-way loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine

from growthkit.core.clock import now_ms
from growthkit.core.partitions import ensure_partitions
from growthkit.core.retention import run_retention
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import checkpoint

log = logging.getLogger("growthkit.server.maintenance")

ROLLUP_EVERY_S = 30.0
FIRST_ROLLUP_AFTER_S = 5.0
RETENTION_EVERY_S = 24 * 3600.0
FIRST_RETENTION_AFTER_S = 60.0
CHECKPOINT_EVERY_S = 1.0
SQLITE_CHUNK_ROWS = 5_000
SQLITE_PAUSE_S = 0.12


class Maintenance:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run(), name="growthkit-maintenance"))
        if self.engine.dialect.name == "sqlite":
            self._tasks.append(asyncio.create_task(self._checkpoints(),
                                                   name="growthkit-checkpoints"))

    async def stop(self) -> None:
        self._stop.set()
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
        if self.engine.dialect.name != "sqlite":
            refresh_rollups(self.engine, progress=self._check_stop)
            return
        # SQLite has one write lock, and a waiting writer polls for it at up to 100 ms
        # intervals: small steps with longer pauses keep ingest from waiting behind a refresh.
        refresh_rollups(self.engine, chunk=SQLITE_CHUNK_ROWS, progress=self._pause)

    def _pause(self, *args) -> None:  # noqa: ANN002
        self._check_stop(*args)
        time.sleep(SQLITE_PAUSE_S)

    def _check_stop(self, *_args) -> None:  # noqa: ANN002
        """Progress callback: end a long run between its steps when the server stops."""
        if self._stop.is_set():
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
