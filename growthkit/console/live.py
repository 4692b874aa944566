"""The live stream on a worker: Source.stream() with reconnects, backoff and Last-Event-ID."""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from growthkit.console.workers import WorkerPool

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 1.0, 30.0


def as_json(item: Any) -> dict:
    return item.to_json() if hasattr(item, "to_json") else dict(item)


class LiveStream(QObject):
    """Follows the source's live stream until stopped.

    Emits `events(list[dict])` with StoredActivity JSON as it arrives and `state(str, str)`
    with ("connecting" | "live" | "offline" | "unsupported", message). The client's stream
    reconnects by itself with backoff and `Last-Event-ID` (the server replays what was
    missed, nothing twice); its `connected` flag is polled here to say when the server is
    gone and back. An error the stream raises (a rotated key) is reported, and the stream
    is reopened after 1, 2, 4 … 30 s from the last event id received.
    """

    events = Signal(list)
    state = Signal(str, str)

    def __init__(self, source: Any, workers: WorkerPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.workers = workers
        self.last_event_id: int | None = None
        self._stop = threading.Event()
        self._current: Any = None
        self._running = False
        self._connected: bool | None = None
        self._poll = QTimer(self, interval=500)
        self._poll.timeout.connect(self._poll_connected)

    def start(self, last_event_id: int | None = None) -> None:
        if self._running:
            return
        if last_event_id is not None:
            self.last_event_id = last_event_id
        if not hasattr(self.source, "stream"):
            self.state.emit("unsupported", "this source has no live stream")
            return
        self._running = True
        self._stop.clear()
        self.workers.submit_long(self._run)
        self._poll.start()

    @property
    def running(self) -> bool:
        return self._running

    def _poll_connected(self) -> None:
        current = self._current
        if current is None or not hasattr(current, "connected"):
            return
        connected = bool(current.connected)
        if connected != self._connected:
            was, self._connected = self._connected, connected
            if connected:
                self.state.emit("live", "")
            elif was:
                self.state.emit("offline", "the server stopped answering; reconnecting")

    def stop(self) -> None:
        """Ask the worker to end; closing the open response wakes a blocked read at once."""
        self._stop.set()
        self._poll.stop()
        current = self._current
        close = getattr(current, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # already closed, or closing from here raced the reader
                log.debug("closing the live stream", exc_info=True)

    def _run(self) -> None:
        delay = BACKOFF_START
        while not self._stop.is_set():
            try:
                self.state.emit("connecting", "")
                stream = self.source.stream(last_event_id=self.last_event_id)
                self._current = stream
                if self._stop.is_set():
                    break
                if not hasattr(stream, "connected"):
                    self.state.emit("live", "")
                for item in stream:
                    if self._stop.is_set():
                        break
                    delay = BACKOFF_START
                    data = as_json(item)
                    seq = data.get("seq")
                    if isinstance(seq, int):
                        self.last_event_id = seq
                    self.events.emit([data])
                if self._stop.is_set():
                    break
                self.state.emit("offline", "the server closed the live stream")
            except NotImplementedError as exc:
                self.state.emit("unsupported", str(exc) or "this source has no live stream")
                break
            except Exception as exc:  # unreachable, 5xx, dropped: say so, then retry
                if self._stop.is_set():
                    break
                self.state.emit("offline", str(exc) or type(exc).__name__)
            finally:
                self._close_current()
                self._connected = None
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, BACKOFF_MAX)
        self._running = False

    def _close_current(self) -> None:
        current, self._current = self._current, None
        close = getattr(current, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.debug("closing the live stream", exc_info=True)
