"""The live stream: activities over server-sent events, reconnecting and resuming by id."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_sse import EventSource

from growthkit.api_client.errors import (
    AuthError,
    GrowthKitError,
    NotFound,
    ServerUnavailable,
    from_response,
    from_transport,
)
from growthkit.api_client.filters import event_names
from growthkit.api_client.results import StoredActivity
from growthkit.api_client.transport import Backoff, Transport

log = logging.getLogger("growthkit.api_client")

# A dead connection shows as silence: the server sends a heartbeat every 15 s by default.
DEFAULT_READ_TIMEOUT = 45.0


class LiveStream:
    """Iterate to get each new StoredActivity as it is stored; `close()` (from any thread) ends it.

    After a disconnect (server restart, network loss, a slow reader dropped by the server)
    it reconnects with jittered backoff and sends `Last-Event-ID`, so the events stored
    meanwhile come first and none comes twice. `last_event_id` is the id to resume from
    in a later stream. Authentication and bad-request errors are raised, not retried.
    """

    def __init__(self, transport: Transport, *, last_event_id: int | str | None,
                 event: Any = None, fingerprint: str | None = None,
                 session: str | None = None, read_timeout: float = DEFAULT_READ_TIMEOUT,
                 backoff: Backoff | None = None, max_retries: int | None = None):
        self._transport = transport
        self.last_event_id = None if last_event_id is None else str(last_event_id)
        self._params: list[tuple[str, str]] = [("eventName", n) for n in event_names(event)]
        if fingerprint:
            self._params.append(("fingerprint", fingerprint))
        if session:
            self._params.append(("sessionId", session))
        self._read_timeout = read_timeout
        self._backoff = backoff or Backoff(cap=10.0)
        self._max_retries = max_retries
        self._closed = threading.Event()
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        self.connected = False
        self.reconnects = 0
        self._items = self._run()

    def __iter__(self) -> Iterator[StoredActivity]:
        return self

    def __next__(self) -> StoredActivity:
        return next(self._items)

    def __enter__(self) -> LiveStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """End the stream; a thread blocked in `next()` gets StopIteration soon after."""
        self._closed.set()
        with self._lock:
            response = self._response
        if response is None:
            return
        # Closing an httpx response does not wake a thread blocked reading it; shutting the
        # socket down does (the reading thread then closes the response itself).
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        else:
            response.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def _connect(self) -> httpx.Response:
        t = self._transport
        headers = {**t.headers, "Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        timeout = httpx.Timeout(t.timeout, read=self._read_timeout)
        request = t.http.build_request("GET", t.full_url("/api/v1/stream"), params=self._params,
                                       headers=headers, timeout=timeout)
        try:
            response = t.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise from_transport(exc, t.url) from exc
        if response.status_code >= 400:
            response.read()
            response.close()
            raise from_response(response)
        return response

    def _events(self, response: httpx.Response) -> Iterator[StoredActivity]:
        for sse in EventSource(response).iter_sse():
            if sse.event == "activity":
                activity = StoredActivity.from_json(sse.json())
                self.last_event_id = sse.id or str(activity.seq)
                yield activity
            elif sse.event == "dropped":
                log.warning("the server dropped this stream (it fell behind): resuming after "
                            "event %s", self.last_event_id)
                return

    def _run(self) -> Iterator[StoredActivity]:
        failures = 0
        while not self.closed:
            try:
                response = self._connect()
            except (AuthError, NotFound) as exc:
                raise exc
            except GrowthKitError as exc:
                if not isinstance(exc, ServerUnavailable) and exc.status not in (429,):
                    raise
                if self._max_retries is not None and failures >= self._max_retries:
                    raise
                self._wait(failures, exc)
                failures += 1
                continue
            with self._lock:
                self._response = response
            self.connected = True
            try:
                for activity in self._events(response):
                    failures = 0
                    yield activity
            except (httpx.TransportError, httpx.StreamError, RuntimeError) as exc:
                if not self.closed:
                    log.info("live stream interrupted (%s); reconnecting", exc)
            finally:
                self.connected = False
                with self._lock:
                    self._response = None
                response.close()
            if not self.closed:
                self.reconnects += 1
                self._wait(failures, None)
                failures += 1

    def _wait(self, failures: int, error: GrowthKitError | None) -> None:
        retry_after = getattr(error, "retry_after", None)
        delay = self._backoff.delay(failures, retry_after)
        if error is not None:
            log.info("live stream: %s; reconnecting in %.1f s", error.message, delay)
        self._closed.wait(delay)

