"""The server's answer cache (growthkit/server/cache.py) on its own: an answer is never
served older than its TTL, however long it took to compute."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from growthkit.server.cache import QueryCache


def test_an_answer_is_not_served_past_its_ttl_counted_from_when_it_was_computed():
    cache = QueryCache(ttl=0.3)

    def slow_answer() -> dict:  # reads the store at the start, as a query does
        read_at = time.monotonic()
        time.sleep(0.5)
        return {"readAt": read_at}

    async def run() -> tuple[bytes, bytes | None]:
        body, hit = await cache.get_or_compute(("app", "/stats"), slow_answer)
        assert not hit
        return body, cache.get(("app", "/stats"))

    # On a thread of its own: another test may have left an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        _, cached = pool.submit(asyncio.run, run()).result()
    # The answer's data is already 0.5 s old, past the 0.3 s TTL: nobody gets it from the
    # cache (another process may have stored events since).
    assert cached is None
