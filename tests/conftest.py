"""Test harness: the real app on SQLite and (when configured) PostgreSQL and Redis.

GROWTHKIT_TEST_DATABASE_URL (postgresql://…) and GROWTHKIT_TEST_REDIS_URL (redis://…) turn
on the PostgreSQL and Redis variants; each test gets its own PostgreSQL schema.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from growthkit.core import apps as core_apps
from growthkit.core.store import normalize_url, open_engine, write_connection
from growthkit.server.app import create_app
from growthkit.server.settings import Settings

PG_URL = os.environ.get("GROWTHKIT_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("GROWTHKIT_TEST_REDIS_URL")

# Store and rate-limit backends: every test runs on both stores; the pairs cover both
# limiter storages too. Tests that care about the limiter use `all_backends`.
BACKENDS = [("sqlite", "memory"), ("postgresql", "redis")]
ALL_BACKENDS = [(s, r) for s in ("sqlite", "postgresql") for r in ("memory", "redis")]


def _backend_param(store: str, limiter: str):
    marks = []
    if store == "postgresql" and not PG_URL:
        marks.append(pytest.mark.skip(reason="GROWTHKIT_TEST_DATABASE_URL not set"))
    if limiter == "redis" and not REDIS_URL:
        marks.append(pytest.mark.skip(reason="GROWTHKIT_TEST_REDIS_URL not set"))
    return pytest.param((store, limiter), id=f"{store}-{limiter}", marks=marks)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        pairs = ALL_BACKENDS if metafunc.definition.get_closest_marker("all_backends") else BACKENDS
        metafunc.parametrize("backend", [_backend_param(*p) for p in pairs], indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "all_backends: run on every store x limiter pair")


@pytest.fixture
def backend(request) -> tuple[str, str]:
    return request.param


@pytest.fixture
def database_url(backend, tmp_path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a PostgreSQL schema of its own."""
    store, _ = backend
    if store == "sqlite":
        yield f"sqlite:///{tmp_path / 'growthkit.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = open_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield normalize_url(PG_URL) + f"{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def redis_url(backend) -> str | None:
    return REDIS_URL if backend[1] == "redis" else None


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
    return Settings(database_url=database_url, redis_url=redis_url, app_cache_seconds=0,
                    **overrides)


@pytest.fixture
def server(database_url, redis_url) -> Iterator[Server]:
    """The app in-process (httpx through Starlette's TestClient, lifespan included)."""
    app = create_app(make_settings(database_url, redis_url))
    with TestClient(app) as client:
        engine = app.state.growthkit.engine
        yield Server(client=client, engine=engine)


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


@pytest.fixture
def live_server(database_url, redis_url) -> Iterator[LiveServer]:
    """The app on a real socket (streams, browsers, the console, failure tests)."""
    srv, thread, base = start_live_server(make_settings(database_url, redis_url))
    engine = open_engine(database_url)
    with httpx.Client(base_url=base, timeout=30) as client:
        live = LiveServer(client=client, engine=engine, base_url=base)
        live.uvicorn = srv
        yield live
    srv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()
