"""Events-per-minute budgets (per fingerprint, per app): sliding window counters, memory or Redis.

The algorithm is the sliding window counter (as in the `limits` library): a count per
fixed minute, and the previous minute's count weighted by how much of it still overlaps the
last 60 s. We keep our own implementation because ingest needs three things `limits` does
not give: a cost per hit that does not grow with the number of keys seen (its memory
storage sweeps every key on each hit, which slowed a long-running server down by half),
granting part of a request (the first k of n events) in one round trip, and refunds, so
that duplicates and failed writes are not charged.

Memory: one entry per key in an OrderedDict kept in last-use order; each call drops the
entries idle for two windows from the front (amortised O(1)), and the count of keys is
capped. Redis: two keys per budget and window, each with its own expiry (two windows), and
one script call per grant.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from math import ceil, floor

log = logging.getLogger("growthkit.ratelimit")
WINDOW_SECONDS = 60
REDIS_TIMEOUT_S = 1.0  # a Redis that does not answer fails the request fast (503)
MAX_MEMORY_KEYS = 250_000  # beyond this the least recently used budgets are forgotten

# KEYS: current window, previous window. ARGV: n, limit, weight of the previous window,
# expiry of the current window's key (epoch ms). Returns the events granted.
GRANT_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local available = tonumber(ARGV[2]) - (math.floor(previous * tonumber(ARGV[3])) + current)
local n = math.min(tonumber(ARGV[1]), math.max(available, 0))
if n > 0 then
  redis.call('INCRBY', KEYS[1], n)
  redis.call('PEXPIREAT', KEYS[1], ARGV[4])
end
return n
"""
# KEYS: the window charged. ARGV: n. Never below 0, never a key without an expiry.
REFUND_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('DECRBY', KEYS[1], ARGV[1]) < 0 then
    redis.call('SET', KEYS[1], 0, 'KEEPTTL')
  end
end
return 0
"""


class LimiterUnavailable(RuntimeError):
    """The shared limiter (Redis) could not be asked; nothing was granted."""


@dataclass
class Grant:
    """What one budget granted; `refund` gives back what was not used."""

    key: tuple[str, ...]
    window: int
    granted: int
    retry_after: int  # seconds until the budget refills (0: everything asked was granted)


def _window(now: float) -> tuple[int, float]:
    """(window number, weight of the previous window's count)."""
    window = int(now // WINDOW_SECONDS)
    return window, 1.0 - (now - window * WINDOW_SECONDS) / WINDOW_SECONDS


def _retry_after(now: float) -> int:
    return max(1, ceil((int(now // WINDOW_SECONDS) + 1) * WINDOW_SECONDS - now))


class MemoryWindows:
    """Sliding window counters in this process, O(1) per call, at most `max_keys` of them."""

    def __init__(self, max_keys: int = MAX_MEMORY_KEYS):
        self.max_keys = max_keys
        # key -> [window, current count, previous count]; least recently used first.
        self._entries: OrderedDict[tuple[str, ...], list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, key: tuple[str, ...], window: int) -> list[int]:
        entries = self._entries
        # Entries idle for two windows count for nothing any more: drop them from the front.
        while entries:
            oldest_key, oldest = next(iter(entries.items()))
            if oldest[0] >= window - 1 and len(entries) < self.max_keys:
                break
            del entries[oldest_key]
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = [window, 0, 0]
        else:
            entries.move_to_end(key)
            if entry[0] != window:
                entry[2] = entry[1] if entry[0] == window - 1 else 0
                entry[1] = 0
                entry[0] = window
        return entry

    def grant(self, key: tuple[str, ...], n: int, limit: int, now: float) -> int:
        window, weight = _window(now)
        entry = self._entry(key, window)
        granted = min(n, max(0, limit - (floor(entry[2] * weight) + entry[1])))
        entry[1] += granted
        return granted

    def refund(self, key: tuple[str, ...], window: int, n: int) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        if entry[0] == window:
            entry[1] = max(0, entry[1] - n)
        elif entry[0] == window + 1:
            entry[2] = max(0, entry[2] - n)


class RedisWindows:
    """Sliding window counters shared through Redis; every key expires on its own."""

    def __init__(self, url: str):
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S,
                                    socket_connect_timeout=REDIS_TIMEOUT_S)
        self._grant = self.redis.register_script(GRANT_SCRIPT)
        self._refund = self.redis.register_script(REFUND_SCRIPT)

    @staticmethod
    def _key(key: tuple[str, ...], window: int) -> str:
        # One hash tag per budget keeps both windows on the same Redis Cluster node.
        return f"gk:rl:{{{':'.join(key)}}}:{window}"

    async def grant(self, key: tuple[str, ...], n: int, limit: int, now: float) -> int:
        window, weight = _window(now)
        expires_ms = (window + 2) * WINDOW_SECONDS * 1000
        keys = [self._key(key, window), self._key(key, window - 1)]
        return int(await self._grant(keys=keys, args=[n, limit, f"{weight:.6f}", expires_ms]))

    async def refund(self, key: tuple[str, ...], window: int, n: int) -> None:
        await self._refund(keys=[self._key(key, window)], args=[n])

    async def close(self) -> None:
        await self.redis.aclose()


class EventRateLimiter:
    """Grants up to `n` events of a budget (e.g. one fingerprint of one app) per minute."""

    def __init__(self, redis_url: str | None = None):
        self.redis = RedisWindows(redis_url) if redis_url else None
        self.memory = MemoryWindows()

    async def grant(self, key: tuple[str, ...], n: int, per_minute: int) -> Grant:
        now = time.time()
        if self.redis is not None:
            try:
                granted = await self.redis.grant(key, n, per_minute, now)
            except Exception as exc:  # redis errors, timeouts: the limit cannot be checked
                raise LimiterUnavailable(type(exc).__name__) from exc
        else:
            granted = self.memory.grant(key, n, per_minute, now)
        return Grant(key, _window(now)[0], granted,
                     0 if granted == n else _retry_after(now))

    async def refund(self, grant: Grant, n: int) -> None:
        """Give back `n` of the granted events (not stored: duplicates, failed writes)."""
        n = min(n, grant.granted)
        if n <= 0:
            return
        grant.granted -= n
        if self.redis is not None:
            try:
                await self.redis.refund(grant.key, grant.window, n)
            except Exception as exc:  # a lost refund only makes the limit a little stricter
                log.warning("rate-limit refund failed: %s", type(exc).__name__)
        else:
            self.memory.refund(grant.key, grant.window, n)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()
