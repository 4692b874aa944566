"""The test harness: the real app on SQLite and (when configured) PostgreSQL and Redis.

Helpers shared by the fixtures in conftest.py and by tests that start servers of their own.
GROWTHKIT_TEST_DATABASE_URL (postgresql://…) and GROWTHKIT_TEST_REDIS_URL (redis://…) turn
on the PostgreSQL and Redis variants.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, text

from growthkit.core import apps as core_apps
from growthkit.core.store import write_connection
from growthkit.server.app import create_app
from growthkit.server.settings import Settings

PG_URL = os.environ.get("GROWTHKIT_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("GROWTHKIT_TEST_REDIS_URL")


@dataclass
class Keys:
    id: str
    public: str
    secret: str


@dataclass
class Server:
    """The running app: an HTTP client plus a direct engine for checking what was stored."""

    client: httpx.Client
    engine: Engine
    base_url: str = "http://testserver"
    apps: list[Keys] = field(default_factory=list)

    def create_app(self, name: str = "Test", **settings: Any) -> Keys:
        with write_connection(self.engine) as conn, conn.begin():
            new = core_apps.create_app(conn, name, settings)
        keys = Keys(new.app.id, new.app.public_key, new.secret_key)
        self.apps.append(keys)
        return keys

    def rows(self, sql: str, **params: Any) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def track(self, key: str, body: Any, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
        return self.client.post("/api/v1/track", json=body, headers=headers, **kwargs)


def make_settings(database_url: str, redis_url: str | None, **overrides: Any) -> Settings:
    # No caching unless a test asks for it: tests read what they just wrote.
    options = {"app_cache_seconds": 0, "query_cache_seconds": 0, **overrides}
    return Settings(database_url=database_url, redis_url=redis_url, **options)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer(Server):
    """The app on a real uvicorn socket in a background thread."""

    uvicorn: uvicorn.Server


def start_live_server(settings: Settings) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                            log_level="warning", access_log=False)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return srv, thread, f"http://127.0.0.1:{port}"


def backend_param(store: str, limiter: str):
    """A `backend` parameter that skips where its PostgreSQL/Redis is not configured."""
    marks = []
    if store == "postgresql" and not PG_URL:
        marks.append(pytest.mark.skip(reason="GROWTHKIT_TEST_DATABASE_URL not set"))
    if limiter == "redis" and not REDIS_URL:
        marks.append(pytest.mark.skip(reason="GROWTHKIT_TEST_REDIS_URL not set"))
    return pytest.param((store, limiter), id=f"{store}-{limiter}", marks=marks)
