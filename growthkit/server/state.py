"""What the running server holds: the store engine, the group writer, limits and caches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from growthkit.core import apps as core_apps
from growthkit.server.live import Broadcaster
from growthkit.server.ratelimit import EventRateLimiter
from growthkit.server.settings import Settings
from growthkit.server.writer import GroupWriter


@dataclass
class ServerState:
    settings: Settings
    engine: Engine
    writer: GroupWriter
    limiter: EventRateLimiter
    broadcaster: Broadcaster | None = None  # the live stream's fan-out (server/live.py)
    _apps: dict[str, tuple[float, core_apps.App | None]] = field(default_factory=dict)

    async def app_for_key(self, key: str) -> core_apps.App | None:
        """The app a key belongs to (public or secret), cached briefly; None if unknown."""
        hit = self._apps.get(key)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        app = await run_in_threadpool(self._lookup, key)
        if len(self._apps) > 10_000:
            self._apps.clear()
        self._apps[key] = (now + self.settings.app_cache_seconds, app)
        return app

    def _lookup(self, key: str) -> core_apps.App | None:
        with self.engine.connect() as conn:
            if key.startswith("sk_"):
                return core_apps.find_by_secret_key(conn, key)
            return core_apps.find_by_public_key(conn, key)

    def forget_apps(self) -> None:
        """Drop cached apps (after a settings change or key rotation through the API)."""
        self._apps.clear()
