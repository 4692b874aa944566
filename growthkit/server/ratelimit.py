"""Events-per-minute limits per fingerprint, with the `limits` library (memory or Redis)."""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


class EventRateLimiter:
    """Grants up to `n` events for one fingerprint of one app, within the app's limit."""

    def __init__(self, redis_url: str | None = None):
        uri = ("async+" + redis_url) if redis_url else "async+memory://"
        options = {"implementation": "redispy"} if redis_url else {}
        self.storage = storage_from_string(uri, **options)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self._items: dict[int, RateLimitItemPerMinute] = {}

    def _item(self, per_minute: int) -> RateLimitItemPerMinute:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute, namespace="gk")
        return item

    async def grant(self, app_id: str, fingerprint: str, n: int,
                    per_minute: int) -> tuple[int, int]:
        """(events granted, seconds until more are allowed when not all were)."""
        item = self._item(per_minute)
        if await self.limiter.hit(item, app_id, fingerprint, cost=n):
            return n, 0
        stats = await self.limiter.get_window_stats(item, app_id, fingerprint)
        granted = min(n, max(0, stats.remaining))
        if granted and not await self.limiter.hit(item, app_id, fingerprint, cost=granted):
            granted = 0
        retry = max(1, int(stats.reset_time - time.time()) + 1)
        return granted, retry

    async def close(self) -> None:
        reset = getattr(self.storage, "close", None)
        if reset is not None:
            result = reset()
            if hasattr(result, "__await__"):
                await result
