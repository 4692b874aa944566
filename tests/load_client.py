"""An at-least-once ingest client for failure tests: unique event ids, retries until a 2xx.

Each worker thread sends batches of events with fresh ids; a batch is retried unchanged
(same ids) after a 503 or 429 (waiting the Retry-After it was given) and after
any connection failure (the server was killed or is restarting), until it is answered
with a 2xx. Every answer is recorded with its time, so a test can check which statuses
came back during an outage and when ingest came back.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

RETRY_STATUSES = (429, 503)
CONNECTION_RETRY_S = 0.05


@dataclass
class Answer:
    at: float  # time.monotonic() when the answer (or the failure) came
    status: int | None  # None: no HTTP answer (connection refused or broken)


@dataclass
class LoadResult:
    acked: set[str] = field(default_factory=set)  # ids of events answered with a 2xx
    answers: list[Answer] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # answers no retry can fix

    def statuses(self, start: float = 0, end: float = float("inf")) -> set[int | None]:
        return {a.status for a in self.answers if start <= a.at <= end}

    def first_success_after(self, t: float) -> float | None:
        return next((a.at for a in self.answers if a.at >= t and a.status is not None
                     and 200 <= a.status < 300), None)


class AtLeastOnceClient:
    def __init__(self, base_url: str, public_key: str, *, workers: int = 4,
                 batch_size: int = 5, timeout: float = 10.0):
        self.base_url = base_url
        self.key = public_key
        self.workers = workers
        self.batch_size = batch_size
        self.timeout = timeout
        self.result = LoadResult()
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> AtLeastOnceClient:
        for n in range(self.workers):
            t = threading.Thread(target=self._work, args=(n,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self, drain_timeout: float = 30.0) -> LoadResult:
        """Stop making new batches; wait until every batch sent so far is acknowledged."""
        self._stop.set()
        deadline = time.monotonic() + drain_timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            raise AssertionError("the load client could not get every batch acknowledged "
                                 f"within {drain_timeout} s")
        return self.result

    def abort(self) -> None:
        """Give up at once, acknowledged or not (a test that failed cleans up)."""
        self._stop.set()
        self._abort.set()
        for t in self._threads:
            t.join(timeout=15)

    def _record(self, status: int | None) -> None:
        with self._lock:
            self.result.answers.append(Answer(time.monotonic(), status))

    def _work(self, worker: int) -> None:
        fingerprint = f"fp_load_{worker}_{uuid.uuid4().hex[:8]}"
        with httpx.Client(base_url=self.base_url, timeout=self.timeout,
                          headers={"Authorization": f"Bearer {self.key}"}) as http:
            while not self._stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(self.batch_size)]
                body = {"fingerprint": fingerprint,
                        "events": [{"id": i, "eventName": "load_tick",
                                    "properties": {"worker": worker}} for i in ids]}
                if self._send(http, body):
                    with self._lock:
                        self.result.acked.update(ids)

    def _send(self, http: httpx.Client, body: dict) -> bool:
        """Send until a 2xx; False for an answer that no retry can change (or an abort)."""
        while not self._abort.is_set():
            try:
                r = http.post("/api/v1/track", json=body)
            except httpx.HTTPError:
                self._record(None)
                time.sleep(CONNECTION_RETRY_S)
                continue
            self._record(r.status_code)
            if 200 <= r.status_code < 300:
                return True
            if r.status_code in RETRY_STATUSES:
                time.sleep(float(r.headers.get("retry-after", "1")))
                continue
            with self._lock:
                self.result.unexpected.append(f"{r.status_code} {r.text[:200]}")
            return False
        return False
