"""The demo's traffic simulator: visitors browsing right now, sent to the running server
over HTTP (as the browser tracker does), so the live feed moves."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import numpy as np

from growthkit.core.clock import now_ms
from growthkit.server.demo_history import (
    Step,
    Visitor,
    new_visitor,
    step_context,
    traffic_level,
    visit,
)
from growthkit.server.demo_vocabulary import DEVICES

CONCURRENT_VISITS = 8
SPENDS = ("export_pdf", "ai_summary", "generate_report")


@dataclass
class _Visit:
    visitor: Visitor
    steps: list[Step]
    started: int
    sent: int = 0
    due: list[float] = field(default_factory=list)  # monotonic send time per step
    ids: list[str] = field(default_factory=list)  # kept, so a retried batch de-duplicates


class TrafficSimulator(threading.Thread):
    """Up to `events_per_second` events (at the busiest hour) from CONCURRENT_VISITS visits
    at a time; a third of
    the visitors come back (the same fingerprints), customers spend credits now and then.
    Survives the server going away (it retries each second and says so once)."""

    def __init__(self, base_url: str, public_key: str, *, events_per_second: float = 3.0,
                 seed: int | None = None, log: Callable[[str], None] = print) -> None:
        super().__init__(name="demo-traffic", daemon=True)
        self.base_url, self.key, self.rate = base_url.rstrip("/"), public_key, events_per_second
        self.rng = np.random.default_rng(seed)
        self.log = log
        self.sent = 0
        self._stop = threading.Event()
        self._returning: list[Visitor] = []
        self._visits: list[_Visit] = []
        self._failing = False

    def stop(self) -> None:
        self._stop.set()

    def _start_visit(self) -> _Visit:
        if self._returning and self.rng.random() < 0.33:
            visitor = self._returning.pop(int(self.rng.integers(len(self._returning))))
        else:
            visitor = new_visitor(self.rng)
        start = now_ms()
        steps = visit(self.rng, visitor, start)
        # Each visit sends 1/CONCURRENT_VISITS of the rate, which follows the hour of day and
        # week like the history does (quieter at night and at weekends).
        rate = self.rate * max(0.1, traffic_level(now_ms()))
        gaps = self.rng.exponential(CONCURRENT_VISITS / rate, len(steps))
        gaps[0] = self.rng.random()
        due = (time.monotonic() + np.cumsum(gaps)).tolist()
        return _Visit(visitor, steps, start, due=due,
                      ids=[str(uuid.uuid4()) for _ in steps])

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while not self._stop.is_set():
                while len(self._visits) < CONCURRENT_VISITS:
                    self._visits.append(self._start_visit())
                for v in list(self._visits):
                    self._send_due(http, v)
                    if v.sent == len(v.steps):
                        self._visits.remove(v)
                        if len(self._returning) < 200:
                            self._returning.append(v.visitor)
                self._stop.wait(0.1)

    def _send_due(self, http: httpx.Client, v: _Visit) -> None:
        now = time.monotonic()
        batch = []
        while v.sent + len(batch) < len(v.steps) and v.due[v.sent + len(batch)] <= now:
            i = v.sent + len(batch)
            step = v.steps[i]
            page_views = sum(s.name == "page_viewed" for s in v.steps[:i + 1])
            batch.append({"id": v.ids[i], "eventName": step.name,
                          "properties": step.properties,
                          "context": step_context(v.visitor, step, v.started, page_views)})
        if not batch:
            return
        headers = {"Authorization": f"Bearer {self.key}", "User-Agent": DEVICES[
            v.visitor.device][5]}
        try:
            r = http.post("/api/v1/track", json={"fingerprint": v.visitor.fingerprint,
                                                 "sentAt": now_ms(), "events": batch},
                          headers=headers)
            if r.status_code >= 500:
                raise httpx.HTTPStatusError(r.text, request=r.request, response=r)
            if v.visitor.stage == 2 and self.rng.random() < 0.1:
                http.post("/api/v1/actions/complete", headers=headers, json={
                    "fingerprint": v.visitor.fingerprint,
                    "action": SPENDS[int(self.rng.integers(len(SPENDS)))]})
        except httpx.HTTPError as exc:
            if not self._failing:
                self.log(f"demo traffic: the server does not answer ({exc}); retrying")
            self._failing = True
            self._stop.wait(1.0)
            return  # the same events go again (same ids: the server de-duplicates)
        if self._failing:
            self.log("demo traffic: the server answers again")
        self._failing = False
        v.sent += len(batch)
        self.sent += len(batch)
