"""Group commit: requests that arrive while a transaction is running share the next one.

A request's events are written by one background thread, together with whatever other
requests queued meanwhile, in a single transaction. The request's future resolves only
after COMMIT, so a 2xx still means "durable"; a failed group is retried request by request
so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from growthkit.core.events import Event
from growthkit.core.ingest import BatchWrite, WriteResult, write_batches
from growthkit.core.store import write_connection

log = logging.getLogger("growthkit.writer")


class StoreUnavailable(RuntimeError):
    """The store could not take the write; nothing of the request was stored."""


Listener = Callable[[str, Sequence[Event]], None]


class GroupWriter:
    def __init__(self, engine: Engine, max_events: int = 5000):
        self.engine = engine
        self.max_events = max_events
        self.listeners: list[Listener] = []  # called with (app_id, stored events) after commit
        self._queue: asyncio.Queue[tuple[BatchWrite, asyncio.Future]] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="growthkit-group-writer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def write(self, batch: BatchWrite) -> WriteResult:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((batch, future))
        return await future

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            events = len(group[0][0].events)
            while events < self.max_events and not self._queue.empty():
                item = self._queue.get_nowait()
                group.append(item)
                events += len(item[0].events)
            outcomes = await asyncio.to_thread(self._commit_group, [b for b, _ in group])
            for (batch, future), outcome in zip(group, outcomes, strict=True):
                if future.done():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
                    self._notify(batch.app_id, outcome.stored)

    def _commit(self, batches: Sequence[BatchWrite]) -> list[WriteResult]:
        with write_connection(self.engine) as conn, conn.begin():
            return write_batches(conn, batches)

    def _commit_group(self, batches: list[BatchWrite]) -> list[WriteResult | Exception]:
        try:
            return list(self._commit(batches))
        except SQLAlchemyError as exc:
            if len(batches) == 1:
                log.warning("store write failed: %s", exc)
                return [StoreUnavailable(str(exc).splitlines()[0])]
        # The group failed as a whole: retry each request alone, so only the culprit fails.
        outcomes: list[WriteResult | Exception] = []
        for batch in batches:
            try:
                outcomes.append(self._commit([batch])[0])
            except SQLAlchemyError as exc:
                log.warning("store write failed: %s", exc)
                outcomes.append(StoreUnavailable(str(exc).splitlines()[0]))
        return outcomes

    def _notify(self, app_id: str, stored: Sequence[Event]) -> None:
        if not stored:
            return
        for listener in self.listeners:
            try:
                listener(app_id, stored)
            except Exception:  # a listener must never fail an ingest
                log.exception("activity listener failed")
