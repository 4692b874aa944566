"""Background work: an application-owned QThreadPool whose jobs report back by signals."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

log = logging.getLogger(__name__)


class _JobSignals(QObject):
    # Created on the GUI thread, so emits from the worker are queued to the GUI thread.
    done = Signal(object)
    failed = Signal(object)
    finished = Signal()


class Job:
    """One call run on a pool thread; its answer or exception comes back as a signal.

    The pool is handed the bound `run` (Qt wraps it in a runnable it owns and deletes), not
    a Python QRunnable: a Python-owned runnable released on the GUI thread while the pool
    thread is still returning from `run()` is a use-after-free."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.signals = _JobSignals()
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            if self.cancelled.is_set():
                return
            try:
                result = self.fn()
            except BaseException as exc:  # every failure is reported, none kills the thread
                if not self.cancelled.is_set():
                    self.signals.failed.emit(exc)
                return
            if not self.cancelled.is_set():
                self.signals.done.emit(result)
        finally:
            self.signals.finished.emit()


class WorkerPool(QObject):
    """The console's workers: they belong to the application and stop cleanly on quit.

    `submit` runs `fn` on a pool thread and calls `on_done(result)` or `on_error(exc)` on
    the GUI thread. `shutdown` drops queued jobs, silences running ones and waits for them
    (each call has the client's timeout, so the wait is bounded).
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 6) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        # Long-running loops (the live stream) get their own threads, so they never take a
        # slot a dock's load is waiting for.
        self.long_pool = QThreadPool(self)
        self.long_pool.setMaxThreadCount(2)
        self._jobs: set[Job] = set()
        self._closing = False

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None]) -> Job | None:
        if self._closing:
            return None
        job = Job(fn)
        job.signals.done.connect(on_done)
        job.signals.failed.connect(on_error)
        job.signals.finished.connect(lambda j=job: self._jobs.discard(j))
        self._jobs.add(job)
        self.pool.start(job.run)
        return job

    def submit_long(self, fn: Callable[[], Any]) -> None:
        """Run a loop that checks its own stop flag (it reports by its own signals)."""
        if not self._closing:
            job = Job(fn)
            self._jobs.add(job)
            job.signals.finished.connect(lambda j=job: self._jobs.discard(j))
            self.long_pool.start(job.run)

    def active(self) -> int:
        return self.pool.activeThreadCount() + self.long_pool.activeThreadCount()

    def shutdown(self, timeout_ms: int = 15000,
                 nudge: Callable[[], None] | None = None) -> bool:
        """Stop taking work, cancel what waits, wait for what runs; True if all stopped.
        `nudge` is called every 100 ms while waiting (e.g. to close a stream again that was
        still connecting when first asked to stop)."""
        self._closing = True
        for job in self._jobs:
            job.cancelled.set()
        self.pool.clear()
        self.long_pool.clear()
        stopped = False
        for _ in range(max(1, timeout_ms // 100)):
            long_done = self.long_pool.waitForDone(50)
            if self.pool.waitForDone(50) and long_done:
                stopped = True
                break
            if nudge is not None:
                nudge()
        if not stopped:
            log.warning("%d console workers still running at exit", self.active())
        self._jobs.clear()
        return stopped
