"""`Tracker`: server-side tracking for Python back ends, batched in the background.

`track()` stores the event in the on-disk queue (tracker_queue.py) and returns; a worker
thread sends batches to `POST /api/v1/track` when `batch_size` events are waiting or
`flush_interval` seconds have passed, and at exit. Every event carries an id, so a batch
sent again after a lost answer is stored once.
"""

from __future__ import annotations

import atexit
import logging
import re
import threading
import time
import uuid
import weakref
from pathlib import Path
from typing import Any

import httpx
import orjson

from growthkit.api_client.errors import AuthError
from growthkit.api_client.tracker_queue import EventQueue, Queued, default_path
from growthkit.api_client.transport import Backoff, user_agent

log = logging.getLogger("growthkit.tracker")

MAX_BATCH = 100                    # the server's limit per request
MAX_BODY_BYTES = 400 * 1024        # below the server's 512 KB, with room for the envelope
EVENT_NAME = re.compile(r"^[\w\-.:/ ]{1,200}$")

_live: weakref.WeakSet[Tracker] = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit() -> None:
    for tracker in list(_live):
        tracker.close()


class Tracker:
    """Send events from a Python back end with the app's public key.

    `batch_size` events or `flush_interval` seconds, whichever comes first, make a batch.
    While the server is unreachable events wait in a SQLite queue (`queue_path`, default:
    one file per server and app in the user data folder) of at most `max_queue` events;
    when it is full the oldest are dropped and a warning is logged. Events the server
    rejects for a rule (a bad name, too old) are logged and dropped; events over the
    per-fingerprint rate limit wait out its Retry-After and are sent again.
    """

    def __init__(self, url: str, public_key: str, *, batch_size: int = 10,
                 flush_interval: float = 30.0, queue_path: str | Path | None = None,
                 max_queue: int = 10_000, timeout: float = 10.0,
                 http: httpx.Client | None = None, flush_at_exit: bool = True):
        key = (public_key or "").strip()
        if key.startswith("sk_"):
            raise AuthError("Tracker sends events with the app's public key (pk_…); never "
                            "ship the secret key (sk_…) where events are sent from")
        if not key.startswith("pk_"):
            raise AuthError("Tracker needs the app's public key, which starts with pk_ "
                            "(printed by `growthkit create-app`)")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1-{MAX_BATCH}, not {batch_size}")
        if flush_interval <= 0:
            raise ValueError(f"flush_interval must be positive, not {flush_interval}")
        self.url = url.rstrip("/")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        path = Path(queue_path) if queue_path else default_path(self.url, key)
        self.queue = EventQueue(path, max_queue)
        self._key = key
        self._owned = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._timeout = timeout
        self._backoff = Backoff(base=1.0, cap=60.0)
        self._failures = 0
        self._retry_at = 0.0
        self._wake = threading.Condition()
        self._waiting = 0
        self._flush_asked = 0   # flush() calls so far
        self._flush_done = 0    # the last of them the worker has answered
        self._closed = False
        self.sent = 0
        self._worker = threading.Thread(target=self._run, name="growthkit-tracker",
                                        daemon=True)
        self._worker.start()
        if flush_at_exit:
            _live.add(self)

    # -- public -----------------------------------------------------------------------------

    def track(self, fingerprint: str, event_name: str, properties: dict[str, Any] | None = None,
              *, session_id: str | None = None, timestamp: float | None = None,
              id: str | None = None) -> str:
        """Queue one event and return its id at once. `timestamp` is epoch seconds
        (default now); the server corrects it for this machine's clock."""
        if self._closed:
            raise RuntimeError("this Tracker is closed")
        if not isinstance(fingerprint, str) or not 1 <= len(fingerprint) <= 128:
            raise ValueError("fingerprint must be a string of 1-128 characters")
        if not isinstance(event_name, str) or not EVENT_NAME.match(event_name):
            raise ValueError("event_name must be 1-200 characters of letters, digits, spaces "
                             f"and _ - . : /, not {event_name!r}")
        if properties is not None and not isinstance(properties, dict):
            raise ValueError("properties must be a dict (a JSON object) or None")
        event: dict[str, Any] = {
            "id": id or str(uuid.uuid4()), "eventName": event_name,
            "fingerprint": fingerprint,
            "timestamp": int((time.time() if timestamp is None else timestamp) * 1000)}
        if properties:
            try:
                orjson.dumps(properties)
            except TypeError as exc:
                raise ValueError(f"properties must be JSON-serializable: {exc}") from None
            event["properties"] = properties
        if session_id:
            event["sessionId"] = session_id
        self.queue.put(event)
        with self._wake:
            self._waiting += 1
            if self._waiting >= self.batch_size:
                self._wake.notify()
        return event["id"]

    @property
    def pending(self) -> int:
        """Events in the queue, not yet accepted by the server."""
        return len(self.queue)

    def flush(self, timeout: float = 10.0) -> bool:
        """Try to send everything queued now; True when the queue is empty afterwards. A
        failed attempt returns False at once (the events stay queued for later)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            self._flush_asked += 1
            ticket = self._flush_asked
            self._retry_at = 0.0  # an explicit flush tries at once, even after failures
            self._wake.notify_all()
            while self._flush_done < ticket and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wake.wait(left)
        return len(self.queue) == 0

    def close(self, timeout: float = 5.0) -> None:
        """Flush (up to `timeout` s) and stop; what could not be sent stays on disk for the
        next Tracker on the same queue."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        with self._wake:
            self._wake.notify()
        self._worker.join(timeout=timeout)
        if self._owned:
            self._http.close()
        self.queue.close()
        _live.discard(self)

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        # Events left by an earlier process go out at once, not after a whole interval.
        last_send = time.monotonic() - (self.flush_interval if len(self.queue) else 0)
        while True:
            with self._wake:
                while not self._closed:
                    now = time.monotonic()
                    asked = self._flush_asked > self._flush_done
                    full = self._waiting >= self.batch_size
                    interval = now - last_send >= self.flush_interval
                    if asked or ((full or interval) and now >= self._retry_at):
                        break
                    wake_at = max(self._retry_at, last_send + self.flush_interval)
                    self._wake.wait(max(0.01, min(1.0, wake_at - now)))
                if self._closed:
                    return
                ticket = self._flush_asked
                self._waiting = 0
            try:
                ok = self._send_due(everything=ticket > self._flush_done)
            except Exception:  # the worker must never die; the events stay queued
                log.exception("tracker: sending failed unexpectedly; events stay queued")
                ok = False
            last_send = time.monotonic()
            with self._wake:
                if ok:
                    self._failures = 0
                    self._retry_at = 0.0
                else:
                    self._retry_at = time.monotonic() + self._backoff.delay(self._failures)
                    self._failures += 1
                self._flush_done = max(self._flush_done, ticket)
                self._wake.notify_all()

    def _send_due(self, everything: bool) -> bool:
        """Send every due event in batches; False after a failure (try again later)."""
        size = MAX_BATCH if everything else self.batch_size
        while batch := self.queue.take(size, time.time()):
            if not self._send(batch):
                return False
        return True

    def _send(self, batch: list[Queued]) -> bool:
        body = orjson.dumps({"sentAt": int(time.time() * 1000),
                             "events": [q.event for q in batch]})
        if len(body) > MAX_BODY_BYTES and len(batch) > 1:
            half = len(batch) // 2
            return self._send(batch[:half]) and self._send(batch[half:])
        try:
            response = self._http.post(
                f"{self.url}/api/v1/track", content=body, timeout=self._timeout,
                headers={"Authorization": f"Bearer {self._key}", "User-Agent": user_agent(),
                         "Content-Type": "application/json"})
        except httpx.TransportError as exc:
            log.info("tracker: %s unreachable (%s); %d events wait in the queue", self.url,
                     exc or type(exc).__name__, len(self.queue))
            return False
        return self._settle(batch, response)

    def _settle(self, batch: list[Queued], response: httpx.Response) -> bool:
        status = response.status_code
        if status >= 500 or status in (401, 403, 404, 408):
            # A refused key or a wrong URL will not heal by itself: say so loudly.
            level = logging.ERROR if status in (401, 403, 404) else logging.INFO
            log.log(level, "tracker: the server answered %d (%s); %d events stay queued",
                    status, response.text[:200], len(self.queue))
            return False
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if status == 413 and len(batch) == 1:
            log.warning("tracker: event %s is too large for the server; dropped",
                        batch[0].id)
            self.queue.delete(batch)
            return True
        rejected = answer.get("rejected") if isinstance(answer, dict) else None
        if not isinstance(rejected, list):
            if status == 429:
                rejected = [{"index": i, "error": "rate limit"} for i in range(len(batch))]
            else:
                log.warning("tracker: the server refused a batch of %d (%d: %s); dropped",
                            len(batch), status, response.text[:200])
                self.queue.delete(batch)
                return True
        limited = []
        for item in rejected:
            index, error = item.get("index"), str(item.get("error", ""))
            if not isinstance(index, int) or not 0 <= index < len(batch):
                continue
            if error.startswith("rate limit"):
                limited.append(batch[index])
            else:
                log.warning("tracker: event %s (%s) rejected by the server: %s; dropped",
                            batch[index].id, batch[index].event.get("eventName"), error)
        done = [q for q in batch if q not in limited]
        self.queue.delete(done)
        self.sent += len(done)
        if limited:
            wait = float(response.headers.get("retry-after") or 1)
            self.queue.postpone(limited, time.time() + wait)
            log.info("tracker: %d events over the rate limit wait %g s", len(limited), wait)
        return True
