"""The ASGI application: `create_app(settings)` wires the store, writer, limits and routes."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from growthkit import __version__
from growthkit.core.store import migrate, open_engine
from growthkit.server import errors
from growthkit.server.cors import ScopedCORS
from growthkit.server.lead_paths import route_on_raw_path
from growthkit.server.live import Broadcaster
from growthkit.server.maintenance import Maintenance
from growthkit.server.ratelimit import EventRateLimiter
from growthkit.server.routes import (
    activities,
    analytics,
    app_settings,
    bulk,
    credits,
    export,
    funnels,
    health,
    leads,
    sdk,
    segments,
    sessions,
    stats,
    stream,
    timeline,
    track,
)
from growthkit.server.settings import Settings
from growthkit.server.state import ServerState
from growthkit.server.writer import GroupWriter

log = logging.getLogger("growthkit.server")
SHUTDOWN_STEP_SECONDS = 5
# SQLite: the maintenance task checkpoints every second; commits only do it past ~80 MB.
SERVER_WAL_AUTOCHECKPOINT = 20_000


class GrowthKitAPI(FastAPI):
    """FastAPI, with event ingest served straight from the ASGI entry point.

    POST /api/v1/track carries most of the traffic: it skips the middleware stack and the
    router (about half of its CPU time) but runs the same handler as the documented route.
    """

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if (scope["type"] == "http" and scope["path"] == track.TRACK_PATH
                and scope["method"] == "POST"):
            scope["app"] = self
            response = await track.track_hot_path(Request(scope, receive))
            await response(scope, receive, send)
            return
        route_on_raw_path(scope)  # lead URLs keep %2F in a fingerprint (lead_paths.py)
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = open_engine(settings.database_url, busy_timeout_ms=settings.write_timeout_ms,
                             wal_autocheckpoint=SERVER_WAL_AUTOCHECKPOINT)
        migrate(engine)
        writer = GroupWriter(engine, settings.group_commit_events, settings.write_stall_seconds)
        state = ServerState(settings, engine, writer, EventRateLimiter(settings.redis_url))
        state.broadcaster = Broadcaster(settings.redis_url, settings.stream_queue_size)
        writer.listeners.append(state.broadcaster.on_stored)
        app.state.growthkit = state
        await state.broadcaster.start()
        await writer.start()
        maintenance = Maintenance(engine, writer)  # rollup refresh, daily retention
        maintenance.start()
        try:
            yield
        finally:
            # Each part gets a bounded time to stop, so one stuck part cannot hang shutdown.
            # The writer drains its queue first, within its own bound.
            drain = lambda: writer.stop(SHUTDOWN_STEP_SECONDS - 1)  # noqa: E731
            for name, stop in (("maintenance", maintenance.stop), ("writer", drain),
                               ("live stream", state.broadcaster.stop),
                               ("rate limiter", state.limiter.close)):
                try:
                    await asyncio.wait_for(stop(), SHUTDOWN_STEP_SECONDS)
                except TimeoutError:
                    log.warning("%s did not stop within %s s", name, SHUTDOWN_STEP_SECONDS)
            engine.dispose()

    app = GrowthKitAPI(title="GrowthKit Activity", version=__version__, lifespan=lifespan,
                  description="Self-hostable activity tracking for fingerprinted leads.")
    # Any site may post events and load the tracker; the secret-key API answers browsers
    # only from origins an app names (server/cors.py).
    app.add_middleware(ScopedCORS)
    errors.install(app)
    for module in (health, track, app_settings, activities, export, stream, stats, analytics,
                   funnels, segments, leads, sessions, credits, timeline,
                   bulk, sdk):
        app.include_router(module.router)
    app.include_router(leads.detail_router)  # last: /leads/{fingerprint:path} matches any suffix
    return app


# A request allocates thousands of short-lived objects: at CPython's default threshold (700
# allocations) the cyclic collector ran every request or two, ~10% of a loaded server's CPU
# (py-spy), walking every object alive since start-up each time it reached the older
# generations.
GC_THRESHOLDS = (50_000, 50, 100)


def create_served_app() -> FastAPI:
    """The app of a `growthkit serve` process (uvicorn's factory, in each worker): the
    start-up objects frozen out of the collector's walks, and collections rarer."""
    app = create_app()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return app
