"""Group commit: requests that arrive while a transaction is running share the next one.

A request's events are written by one background thread, together with whatever other
requests queued meanwhile, in a single transaction. The request's future resolves only
after COMMIT, so a 2xx still means "durable"; a failed group is retried request by request
so one bad request cannot fail its neighbours.

The writer cannot die: whatever a group raises fails only the requests it belongs to
(`UnstorableBatch` for input the store refuses, `StoreUnavailable` for everything else) and
the loop goes on. A request waits a bounded time for its commit, and while the writer is
unhealthy (its task gone, or one commit running longer than `stall_seconds`) new requests
are refused at once instead of queueing behind it. `stop()` drains what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence

from sqlalchemy import Engine

try:
    import fcntl
except ImportError:  # not on Windows: there SQLite's busy timeout alone orders the writers
    fcntl = None
from sqlalchemy.exc import DataError

from growthkit.core.events import Event
from growthkit.core.ingest import BatchWrite, WriteResult, write_batches
from growthkit.core.store import write_connection

log = logging.getLogger("growthkit.writer")


class StoreUnavailable(RuntimeError):
    """The store could not take the write; nothing of the request was stored."""


class UnstorableBatch(ValueError):
    """The store refused the request's events as invalid data: a retry cannot succeed."""


Listener = Callable[[str, Sequence[Event]], None]
Outcome = WriteResult | Exception
_STOP = object()
WRITE_FAILED = "the store failed the write; none were stored"


class WriteTurn:
    """Server processes on one SQLite file take turns at writing through a kernel file lock.

    SQLite lets one writer in at a time and makes the others poll with sleeps of up to
    100 ms (its busy handler): with several processes that polling was the p99. Waiting on
    `flock` instead, the next process wakes the moment the holder commits, and meanwhile
    its own requests queue into one bigger group. The kernel drops the lock of a process
    that dies. PostgreSQL needs no turn; other SQLite writers still use the busy timeout.
    """

    def __init__(self, engine: Engine):
        self._file = None
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:" \
                and fcntl is not None:
            self._file = open(f"{database}.writer-lock", "a+b")  # noqa: SIM115

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self._file is None:
            yield
            return
        fcntl.flock(self._file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class GroupWriter:
    def __init__(self, engine: Engine, max_events: int = 5000, stall_seconds: float = 10.0):
        self.engine = engine
        self.max_events = max_events
        # A commit running longer than this marks the writer unhealthy; a request waits at
        # most twice this (the commit in progress, then its own) before it is answered 503.
        self.stall_seconds = stall_seconds
        self.listeners: list[Listener] = []  # called with (app_id, stored events) after commit
        self._queue: asyncio.Queue = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._commit_started: float | None = None  # monotonic time of the running commit
        self._closing = False
        self.turn = WriteTurn(engine)  # the maintenance's refresh takes turns through it too
        self._last_commit = -1e9  # monotonic time the last group ended

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="growthkit-group-writer")

    @property
    def problem(self) -> str | None:
        """Why the writer cannot take writes now (None: it can)."""
        if self._closing:
            return "the server is shutting down; none were stored"
        if self._task is None or self._task.done():
            return "the event writer is not running; none were stored"
        started = self._commit_started
        if started is not None and time.monotonic() - started > self.stall_seconds:
            return (f"the store has not finished a write for over {self.stall_seconds:g} s; "
                    "none were stored")
        return None

    def busy(self, within_s: float = 1.0) -> bool:
        """Whether requests were written within the last `within_s` seconds (or are now)."""
        return self._commit_started is not None or not self._queue.empty() or \
            time.monotonic() - self._last_commit < within_s

    @property
    def healthy(self) -> bool:
        """Whether writes are being taken (for /health)."""
        return self.problem is None

    async def write(self, batch: BatchWrite) -> WriteResult:
        problem = self.problem
        if problem:
            raise StoreUnavailable(problem)
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((batch, future))
        try:
            # shield: a timed-out request leaves its events in the group; if they commit
            # later, a retry with the same ids finds them as duplicates.
            return await asyncio.wait_for(asyncio.shield(future), 2 * self.stall_seconds)
        except TimeoutError:
            raise StoreUnavailable(f"the store did not confirm the write within "
                                   f"{2 * self.stall_seconds:g} s (it may still complete: "
                                   "a retry finds those events as duplicates)") from None

    async def stop(self, timeout: float = 5.0) -> None:
        """Refuse new writes, commit what is queued (within `timeout`), then end."""
        self._closing = True
        if self._task is None:
            return
        self._queue.put_nowait((_STOP, None))
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
            self.turn.close()  # (a commit still running after a timeout keeps it open)
        except TimeoutError:
            log.warning("the writer did not drain within %s s; failing queued writes", timeout)
            self._task.cancel()
        self._fail_queued(StoreUnavailable("the server is shutting down; none were stored"))

    def _fail_queued(self, exc: Exception) -> None:
        while not self._queue.empty():
            batch, future = self._queue.get_nowait()
            if future is not None and not future.done():
                future.set_exception(exc)

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            events = 0 if group[0][0] is _STOP else len(group[0][0].events)
            while events < self.max_events and not self._queue.empty():
                item = self._queue.get_nowait()
                group.append(item)
                events += 0 if item[0] is _STOP else len(item[0].events)
            work = [(b, f) for b, f in group if b is not _STOP]
            if work:
                await self._write_group(work)
            if len(work) < len(group):
                return

    async def _write_group(self, group: list[tuple[BatchWrite, asyncio.Future]]) -> None:
        self._commit_started = time.monotonic()
        try:
            outcomes = await asyncio.to_thread(self._commit_group, [b for b, _ in group])
        except Exception:  # nothing may end the loop: fail this group, go on
            log.exception("group write failed")
            outcomes = [StoreUnavailable(WRITE_FAILED)] * len(group)
        finally:
            self._commit_started = None
            self._last_commit = time.monotonic()
        for (batch, future), outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, Exception):
                if not future.done():
                    future.set_exception(outcome)
                continue
            if not future.done():
                future.set_result(outcome)
            self._notify(batch.app_id, outcome.stored)

    def _commit(self, batches: Sequence[BatchWrite]) -> list[WriteResult]:
        with self.turn(), write_connection(self.engine) as conn, conn.begin():
            return write_batches(conn, batches)

    def _commit_one(self, batch: BatchWrite) -> Outcome:
        try:
            return self._commit([batch])[0]
        except (DataError, TypeError, ValueError) as exc:
            # The store (or the JSON encoder) refused this request's data: a client error.
            log.warning("store refused a batch: %s", _first_line(exc))
            return UnstorableBatch(_first_line(exc))
        except Exception as exc:  # the details name hosts and databases: logged only
            log.warning("store write failed: %s", _first_line(exc))
            return StoreUnavailable(WRITE_FAILED)

    def _commit_group(self, batches: list[BatchWrite]) -> list[Outcome]:
        if len(batches) == 1:
            return [self._commit_one(batches[0])]
        try:
            return list(self._commit(batches))
        except Exception as exc:
            log.info("group write failed (%s); retrying request by request", _first_line(exc))
        # The group failed as a whole: retry each request alone, so only the culprit fails.
        return [self._commit_one(batch) for batch in batches]

    def _notify(self, app_id: str, stored: Sequence[Event]) -> None:
        if not stored:
            return
        for listener in self.listeners:
            try:
                listener(app_id, stored)
            except Exception:  # a listener must never fail an ingest
                log.exception("activity listener failed")
