"""What the running server holds: the store engine, the group writer, limits and caches."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

from growthkit.core import apps as core_apps
from growthkit.server.live import Broadcaster
from growthkit.server.ratelimit import EventRateLimiter
from growthkit.server.settings import Settings
from growthkit.server.writer import GroupWriter

MAX_CACHED_KEYS = 10_000


@dataclass
class ServerState:
    settings: Settings
    engine: Engine
    writer: GroupWriter
    limiter: EventRateLimiter
    broadcaster: Broadcaster | None = None  # the live stream's fan-out (server/live.py)
    _apps: dict[str, tuple[float, core_apps.App | None]] = field(default_factory=dict)
    _lookups: dict[str, tuple[float, asyncio.Future]] = field(default_factory=dict)
    _origins: tuple[float, frozenset[str]] = (0.0, frozenset())

    async def app_for_key(self, key: str) -> core_apps.App | None:
        """The app a key belongs to (public or secret); None if unknown.

        An answer is reused for at most `app_cache_seconds` (at most 1 s) counted from
        before the store was read, so a key rotated or an app changed by anyone (the CLI,
        another process) is seen by every process within that bound. Concurrent requests
        with the same key share one store read.
        """
        hit = self._apps.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        started = time.monotonic()  # before the read: the bound holds however long it takes
        pending = self._lookups.get(key)
        if pending is not None and started - pending[0] < self.settings.app_cache_seconds:
            return await asyncio.shield(pending[1])  # a read that began within the bound
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._lookups[key] = (started, future)
        try:
            app = await run_in_threadpool(self._lookup, key)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # waiters re-raise it; nobody else must
            raise
        finally:
            if self._lookups.get(key, (0, None))[1] is future:
                del self._lookups[key]
        future.set_result(app)
        if len(self._apps) >= MAX_CACHED_KEYS:
            self._apps.clear()
        self._apps[key] = (started + self.settings.app_cache_seconds, app)
        return app

    def _lookup(self, key: str) -> core_apps.App | None:
        with self.engine.connect() as conn:
            if key.startswith("sk_"):
                return core_apps.find_by_secret_key(conn, key)
            return core_apps.find_by_public_key(conn, key)

    async def origin_named(self, origin: str) -> bool:
        """Whether some app names `origin` in its allowedOrigins (for CORS preflights of the
        secret-key API); the set is re-read at most every `app_cache_seconds`."""
        expires, origins = self._origins
        if expires <= time.monotonic():
            started = time.monotonic()
            origins = await run_in_threadpool(self._named_origins)
            self._origins = (started + self.settings.app_cache_seconds, origins)
        return origin in origins

    def _named_origins(self) -> frozenset[str]:
        with self.engine.connect() as conn:
            return frozenset(o for app in core_apps.list_apps(conn)
                             for o in app.setting("allowedOrigins") or [] if o != "*")

    def forget_apps(self) -> None:
        """Drop cached apps (after a settings change through this process's API)."""
        self._apps.clear()
        self._origins = (0.0, frozenset())

    def ping(self) -> None:
        """SELECT 1 on the store; raises what the store raises when it is unreachable."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
