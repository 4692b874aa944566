"""Helpers of the browser tests: a tab with the tracker, stored events, polling."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).parent
TRACKER = HERE.parents[1] / "tracker"
TRACK_PATH = "/api/v1/track"



def wait_for(check: Callable[[], Any], page: Any = None, timeout: float = 15,
             what: str = "condition") -> Any:
    """Poll until `check()` is truthy (the tracker works asynchronously). Waiting through
    the `page` lets Playwright deliver its events (requests, responses, console) meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        if page is not None and not page.is_closed():
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def stored(live, app_id: str, name: str | None = None) -> list[dict]:
    """The app's stored events, oldest first, JSON columns decoded."""
    where = " AND event_name = :name" if name else ""
    rows = live.rows("SELECT id, fingerprint_id, event_name, properties, context, session_id "
                     f"FROM activities WHERE app_id = :app{where} ORDER BY seq",
                     app=app_id, name=name)
    return [{"id": r.id, "fingerprint": r.fingerprint_id, "name": r.event_name,
             "properties": _json(r.properties), "context": _json(r.context),
             "session": r.session_id} for r in rows]


class Tab:
    """One page with the tracker, plus every track request and response it caused."""

    def __init__(self, context, pages: str, live, key: str, page: str = "tracker.html",
                 **params: Any):
        self.context, self.live = context, live
        self.requests: list = []
        self.statuses: list[int] = []
        self.console: list[str] = []
        context.on("request", lambda r: TRACK_PATH in r.url and self.requests.append(r))
        context.on("response", lambda r: TRACK_PATH in r.url and self.statuses.append(r.status))
        self.page = context.new_page()
        self.page.on("console", lambda m: self.console.append(m.text))
        self.url = f"{pages}/{page}?" + urlencode({"api": live.base_url, "key": key, **params})
        self.open()

    def open(self) -> None:
        self.page.goto(self.url)
        if "tracker.html" in self.url:
            self.page.wait_for_function("window.gkReady === true")

    def js(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)

    def track(self, name: str, properties: dict | None = None) -> None:
        self.js("([n, p]) => gk.track(n, p)", [name, properties])

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 15) -> Any:
        return wait_for(check, self.page, timeout, what)

    def stored(self, count: int, app_id: str, what: str = "the events",
               timeout: float = 15) -> list[dict]:
        """Wait until the app has `count` stored events; they are returned."""
        return self.wait(lambda: (events := stored(self.live, app_id)) and
                         len(events) >= count and events, what, timeout)

    def queued(self) -> list[dict]:
        """The unsent queue persisted in localStorage (every gk_q.* key)."""
        return self.js("""() => Object.keys(localStorage).filter(k => k.startsWith('gk_q.'))
                              .flatMap(k => JSON.parse(localStorage.getItem(k)))""")


