"""The server's bulk reads (docs/api.md, "Bulk reads") as page iterators for copies."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from growthkit.api_client.client import Client

API = "/api/v1/bulk"
PAGE_ROWS = 10_000
FINGERPRINTS_PER_REQUEST = 1000


def request(client: Client, method: str, path: str, *, params: Any = None,
            body: Any = None) -> dict[str, Any]:
    """One bulk answer; retried like every read of the client."""
    # orjson reads the large pages several times faster than the response's own .json().
    response = client._t.request(method, API + path, params=params, json=body)
    return orjson.loads(response.content)


def pages(client: Client, method: str, path: str, *, params: list | None = None,
          body: dict | None = None, cursor: str | None = None) -> Iterator[dict[str, Any]]:
    """Every page of a walk from `cursor` on (GET: filters in `params`; POST: in `body`)."""
    while True:
        if method == "GET":
            page = request(client, "GET", path, params=[
                *(params or []), ("limit", str(PAGE_ROWS)),
                *([("cursor", cursor)] if cursor else [])])
        else:
            page = request(client, "POST", path, body={**(body or {}), "cursor": cursor,
                                                       "limit": PAGE_ROWS})
        yield page
        cursor = page.get("nextCursor")
        if not cursor:
            return


def chunks(items: list[str], size: int = FINGERPRINTS_PER_REQUEST) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class Prefetch:
    """The pages of `source` read one ahead on a thread, so the consumer writes meanwhile."""

    def __init__(self, source: Callable[[], Iterator[dict[str, Any]]]):
        self._source = source
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="growthkit-bulk-read",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for page in self._source():
                if not self._put(("page", page)):
                    return
            self._put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(("error", exc))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            kind, item = self._queue.get()
            if kind == "error":
                raise item
            if kind == "end":
                return
            yield item

    def close(self) -> None:
        """Stop reading ahead (the request in flight, if any, finishes first)."""
        self._stop.set()
        self._thread.join(timeout=60)
