"""The local cache behind a server session: kept in sync while connected, read from while
the server is away (through the client's LocalCache and a LocalSource on its file)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def cache_path(app_id: str) -> Path | None:
    """GROWTHKIT_CONSOLE_CACHE (a folder) names where cache files go; by default the
    client's LocalCache picks one per server and app in the user data folder."""
    folder = os.environ.get("GROWTHKIT_CONSOLE_CACHE")
    return Path(folder) / f"{app_id}.db" if folder else None


def open_cache(client: Any, app_id: str) -> tuple[Any, Any]:
    """Open (or create) the cache, bring it up to date, and answer it with a LocalSource on
    it (blocking: run on a worker)."""
    from growthkit.api_client.cache import LocalCache

    cache = LocalCache(client, path=cache_path(app_id))
    cache.sync()
    return cache, cache.source()


def server_away(exc: BaseException) -> bool:
    """Whether a failed call means the server cannot be reached (so the cache answers)."""
    from growthkit.api_client.errors import ServerUnavailable

    return isinstance(exc, ServerUnavailable)
