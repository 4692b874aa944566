"""Background work: an application-owned QThreadPool whose jobs report back by signals."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal

log = logging.getLogger(__name__)
_collector: Any = None


def collect_on_gui_thread() -> None:
    """Python's cycle collector runs in whichever thread happens to allocate; when that is a
    worker, a Qt object in a garbage cycle is destroyed off the GUI thread and its timers
    later fire on freed memory. pyqtgraph's GarbageCollector turns automatic collection
    off and collects from a GUI-thread timer instead (once per process)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)


class _Dispatcher(QObject):
    """One long-lived QObject on the GUI thread that carries every job's answer back.

    Jobs emit through it instead of through a QObject of their own: a per-job QObject can
    end up destroyed on the pool thread (when that thread drops the last reference) while
    Qt still has its queued signals, which crashes."""

    answered = Signal(int, bool, object)  # job id, ok, result or exception


class Job:
    """One call run on a pool thread; its answer or exception comes back as a signal.

    The pool is handed the bound `run` (Qt wraps it in a runnable it owns), not a Python
    QRunnable, whose C++ side Python could free while the pool thread still uses it."""

    def __init__(self, job_id: int, fn: Callable[[], Any], dispatcher: _Dispatcher) -> None:
        self.id = job_id
        self.fn = fn
        self.dispatcher = dispatcher
        self.cancelled = threading.Event()

    def run(self) -> None:
        # The pool thread lets go of `fn` before answering; the pool's own reference is
        # dropped on the GUI thread, so whatever `fn` holds (a widget) dies there.
        fn, self.fn = self.fn, None
        if self.cancelled.is_set():
            del fn
            self.dispatcher.answered.emit(self.id, False, None)
            return
        try:
            result, ok = fn(), True
        except BaseException as exc:  # every failure is reported, none kills the thread
            result, ok = exc, False
        del fn
        self.dispatcher.answered.emit(self.id, ok, result)


class WorkerPool(QObject):
    """The console's workers: they belong to the application and stop cleanly on quit.

    `submit` runs `fn` on a pool thread and calls `on_done(result)` or `on_error(exc)` on
    the GUI thread. `shutdown` drops queued jobs, silences running ones and waits for them
    (each call has the client's timeout, so the wait is bounded).
    """

    def __init__(self, parent: QObject | None = None, max_threads: int = 6) -> None:
        super().__init__(parent)
        collect_on_gui_thread()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        # Long-running loops (the live stream) get their own threads, so they never take a
        # slot a dock's load is waiting for.
        self.long_pool = QThreadPool(self)
        self.long_pool.setMaxThreadCount(2)
        self._dispatcher = _Dispatcher(self)
        self._dispatcher.answered.connect(self._answered,
                                          Qt.ConnectionType.QueuedConnection)
        # job id -> (job, its fn, on_done, on_error), until the answer is handled
        self._jobs: dict[int, tuple[Job, Callable, Callable | None, Callable | None]] = {}
        self._ids = itertools.count(1)
        self._closing = False

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None]) -> Job | None:
        if self._closing:
            return None
        job = Job(next(self._ids), fn, self._dispatcher)
        self._jobs[job.id] = (job, fn, on_done, on_error)
        self.pool.start(job.run)
        return job

    def submit_long(self, fn: Callable[[], Any]) -> None:
        """Run a loop that checks its own stop flag (it reports by its own signals)."""
        if not self._closing:
            job = Job(next(self._ids), fn, self._dispatcher)
            self._jobs[job.id] = (job, fn, None, None)
            self.long_pool.start(job.run)

    def _answered(self, job_id: int, ok: bool, payload: Any) -> None:
        entry = self._jobs.pop(job_id, None)
        if entry is None or self._closing:
            return
        job, _fn, on_done, on_error = entry
        if job.cancelled.is_set():
            return
        callback = on_done if ok else on_error
        if callback is not None:
            callback(payload)

    def active(self) -> int:
        return self.pool.activeThreadCount() + self.long_pool.activeThreadCount()

    def shutdown(self, timeout_ms: int = 15000,
                 nudge: Callable[[], None] | None = None) -> bool:
        """Stop taking work, cancel what waits, wait for what runs; True if all stopped.
        `nudge` is called every 100 ms while waiting (e.g. to close a stream again that was
        still connecting when first asked to stop)."""
        self._closing = True
        for job, *_ in self._jobs.values():
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
