"""A short server-side TTL cache for dashboard answers, keyed by app + path + query (+ body).

Consoles poll the same stats every few seconds; within `ttl` identical requests of one app
share one computation (concurrent ones wait for the first instead of querying again).
Entries expire by time only, counted from when the computation began (before the store
was read): an answer is at most `ttl` seconds old however long it took, and says its own
from/to. Each server process has its own cache, so a write through another process shows
here within `ttl` too.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from growthkit.server.auth import state_of

MAX_ENTRIES = 2048


class QueryCache:
    def __init__(self, ttl: float, max_entries: int = MAX_ENTRIES):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[float, bytes]] = OrderedDict()
        self._inflight: dict[tuple, asyncio.Future[bytes]] = {}

    def get(self, key: tuple) -> bytes | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] <= time.monotonic():
            del self._entries[key]
            return None
        return hit[1]

    def put(self, key: tuple, body: bytes, started: float) -> None:
        """Keep `body`, computed from a read that began at `started` (monotonic)."""
        if started + self.ttl <= time.monotonic():
            return  # already as old as the TTL allows
        self._entries[key] = (started + self.ttl, body)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def get_or_compute(self, key: tuple, compute: Callable[[], Any]) -> tuple[bytes, bool]:
        """(body, hit): the cached body, or the one `compute` (a blocking call) makes."""
        if self.ttl <= 0:
            return await run_in_threadpool(_dump, compute), False
        body = self.get(key)
        if body is not None:
            return body, True
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        started = time.monotonic()
        try:
            body = await run_in_threadpool(_dump, compute)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(body)
        self.put(key, body, started)
        return body, False


def _dump(compute: Callable[[], Any]) -> bytes:
    return orjson.dumps(compute())


def query_cache(request: Request) -> QueryCache:
    """The app-wide cache; its TTL is `query_cache_seconds`."""
    cache = getattr(request.app.state, "query_cache", None)
    if cache is None:
        cache = QueryCache(state_of(request).settings.query_cache_seconds)
        request.app.state.query_cache = cache
    return cache


async def cached_json(request: Request, app_id: str, compute: Callable[[], Any],
                      body_key: bytes | None = None) -> Response:
    """JSON of `compute()` (run in a thread), shared with identical requests within the TTL.

    `body_key`: for POST queries, a canonical form of the parsed body (part of the key).
    """
    cache = query_cache(request)
    key = (app_id, request.url.path, tuple(sorted(request.query_params.multi_items())),
           body_key)
    body, hit = await cache.get_or_compute(key, compute)
    headers = {"X-Cache": "hit" if hit else "miss",
               "Cache-Control": f"private, max-age={int(cache.ttl)}"}
    return Response(body, media_type="application/json", headers=headers)
