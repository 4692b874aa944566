"""Fixtures: the real app on SQLite and (when configured) PostgreSQL and Redis.

GROWTHKIT_TEST_DATABASE_URL (postgresql://…) and GROWTHKIT_TEST_REDIS_URL (redis://…) turn
on the PostgreSQL and Redis variants; each test gets its own PostgreSQL schema.
"""

from __future__ import annotations

import os

# Qt widgets run offscreen in tests; keys never reach a real OS keyring.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
# The console's local caches go to a folder of the test run, not the user's data folder.
os.environ.setdefault("GROWTHKIT_CONSOLE_CACHE",
                      __import__("tempfile").mkdtemp(prefix="growthkit-console-cache-"))

import uuid  # noqa: E402 (after the environment the imports below read)
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from harness import (
    PG_URL,
    REDIS_URL,
    LiveServer,
    Server,
    backend_param,
    make_settings,
    start_live_server,
)
from sqlalchemy import text

from growthkit.core.store import normalize_url, open_engine
from growthkit.server.app import create_app

# Store and rate-limit backends: every test runs on both stores; the pairs cover both
# limiter storages too. Tests that care about the limiter use `all_backends`.
BACKENDS = [("sqlite", "memory"), ("postgresql", "redis")]
ALL_BACKENDS = [(s, r) for s in ("sqlite", "postgresql") for r in ("memory", "redis")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    explicit = any("backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize"))
    if "backend" in metafunc.fixturenames and not explicit:
        pairs = ALL_BACKENDS if metafunc.definition.get_closest_marker("all_backends") else BACKENDS
        metafunc.parametrize("backend", [backend_param(*p) for p in pairs], indirect=True)


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


@pytest.fixture
def server(database_url, redis_url) -> Iterator[Server]:
    """The app in-process (httpx through Starlette's TestClient, lifespan included)."""
    app = create_app(make_settings(database_url, redis_url))
    with TestClient(app) as client:
        engine = app.state.growthkit.engine
        yield Server(client=client, engine=engine)


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


@pytest.fixture
def console_settings(tmp_path):
    """The console's settings in a file of the test's own."""
    from growthkit.console.settings import ConsoleSettings

    return ConsoleSettings(tmp_path / "console.ini")


@pytest.fixture
def open_console(qtbot, console_settings):
    """Open the real console on a server: `open_console(base_url, secret_key, specs=None)`
    answers the shown MainWindow (its `console` attribute is the Console); every console
    opened is shut down after the test."""
    from qt_console import ConsoleOpener

    opener = ConsoleOpener(qtbot, console_settings)
    yield opener
    opener.close_all()
