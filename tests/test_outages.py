"""Store outages: every endpoint answers 503 + Retry-After in the JSON error shape, nothing is
lost or stored twice, and ingest comes back by itself once the store does.

PostgreSQL is cut with a TCP proxy of our own between the server and the database
(tests/tcp_proxy.py); SQLite's outage is its file locked by another writer.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from harness import LiveServer, make_settings, start_live_server
from load_client import AtLeastOnceClient
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from growthkit.core.store import open_engine

# Generous bound on "ingest is back": the design target is 1 s (docs/operations.md); the
# measured figure is printed, the assertion only catches a server that does not recover.
RECOVERY_BOUND_S = 10.0
NO_STORE = ("/sdk/", "/health")  # answered without the store


@pytest.fixture
def proxied(backend, database_url, redis_url) -> Iterator[tuple[LiveServer, TcpProxy]]:
    """A live server whose PostgreSQL connections all go through a TcpProxy."""
    if backend[0] != "postgresql":
        pytest.skip("the TCP proxy sits in front of PostgreSQL; SQLite: see the lock tests")
    proxy, url = TcpProxy.for_url(database_url)
    srv, thread, base = start_live_server(make_settings(url, redis_url))
    engine = open_engine(database_url)  # direct: the test's own view of the store
    with httpx.Client(base_url=base, timeout=30) as client:
        live = LiveServer(client=client, engine=engine, base_url=base)
        yield live, proxy
    proxy.restore()
    srv.should_exit = True
    thread.join(timeout=10)
    proxy.close()
    engine.dispose()


def _track_body(n: int = 1) -> dict:
    return {"fingerprint": "fp_outage", "events": [{"eventName": "ping"}] * n}


# Public-key endpoints, and bodies that pass validation (so a request reaches the store
# even when its key is still cached).
PUBLIC = {"/api/v1/track", "/api/v1/actions/complete"}
BODIES = {
    "/api/v1/track": _track_body(),
    "/api/v1/app": {"timeZone": "UTC"},
    "/api/v1/analytics/funnel": {"steps": [{"eventName": "a"}, {"eventName": "b"}],
                                 "windowSeconds": 3600},
    "/api/v1/analytics/segments/query": {"did": [{"eventName": "ping"}]},
    "/api/v1/leads/fp_outage": {"name": "Ada"},
    "/api/v1/credits": {"fingerprint": "fp_outage", "amount": 5, "action": "bonus"},
    "/api/v1/actions/complete": {"fingerprint": "fp_outage", "action": "export"},
}


def _requests(spec: dict, public: str, secret: str) -> Iterator[tuple[str, str, dict]]:
    """(method, path, httpx kwargs) for every operation the OpenAPI document lists."""
    for path, operations in spec["paths"].items():
        if path.startswith(NO_STORE):
            continue
        concrete = re.sub(r"\{[^}]+\}", "fp_outage", path)
        for method in operations:
            key = public if path in PUBLIC else secret
            kwargs: dict = {"headers": {"Authorization": f"Bearer {key}"}}
            if method in ("post", "patch", "put"):
                kwargs["json"] = BODIES.get(concrete, {})
            yield method.upper(), concrete, kwargs


def _assert_store_503(r: httpx.Response, what: str, secrets: tuple[str, ...]) -> None:
    assert r.status_code == 503, f"{what}: {r.status_code} {r.text[:300]}"
    body = r.json()
    assert body["status"] == 503 and isinstance(body["error"], str), (what, body)
    assert int(r.headers["retry-after"]) >= 1, what
    assert r.headers.get("connection", "").lower() != "close", what  # keep-alive kept
    for secret in secrets:  # no store error text: host, port, database, driver
        assert secret not in r.text, f"{what} shows {secret!r}: {r.text}"


def _wait_for_ingest(live: LiveServer, key: str, since: float) -> float:
    deadline = since + RECOVERY_BOUND_S
    while time.monotonic() < deadline:
        if live.track(key, _track_body()).status_code == 200:
            return time.monotonic() - since
        time.sleep(0.01)
    raise AssertionError(f"ingest did not come back within {RECOVERY_BOUND_S} s")


def test_store_outage_every_endpoint_answers_503_json_then_recovers(proxied, capsys):
    live, proxy = proxied
    app = live.create_app()
    spec = live.client.get("/openapi.json").json()
    assert live.track(app.public, _track_body()).status_code == 200
    url = make_url(str(live.engine.url))
    secrets = ("127.0.0.1", f":{url.port or 5432}", f"port {url.port or 5432}", "psycopg",
               str(proxy.port), f'"{url.database}"')

    proxy.cut()
    seen = 0
    for method, path, kwargs in _requests(spec, app.public, app.secret):
        r = live.client.request(method, path, **kwargs)
        if r.status_code == 422 and path not in BODIES:
            continue  # an endpoint added since, whose body this test cannot fill in
        _assert_store_503(r, f"{method} {path}", secrets)
        seen += 1
    assert seen >= 15  # every documented endpoint was tried
    health = live.client.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert "retry-after" in health.headers
    assert not any(s in health.text for s in secrets), health.text
    sdk = live.client.get("/sdk/growthkit.js")
    assert sdk.status_code == 200  # served from memory, store or not

    restored = time.monotonic()
    proxy.restore()
    took = _wait_for_ingest(live, app.public, restored)
    with capsys.disabled():
        print(f"\n[outage] PostgreSQL back -> first event stored after {took * 1000:.0f} ms")
    assert live.client.get("/health").json() == {"status": "up"}
    assert live.scalar("SELECT count(*) FROM activities") == 2


def _load_under_outage(live: LiveServer, key: str, outage, recover,
                       capsys) -> None:  # noqa: ANN001
    """Load before, during and after an outage; check what the at-least-once client saw
    and what was stored."""
    client = AtLeastOnceClient(live.base_url, key, workers=4, batch_size=5).start()
    try:
        time.sleep(1.0)
        cut_at = time.monotonic()
        outage()
        time.sleep(2.5)
        restored_at = time.monotonic()
        recover()
        time.sleep(1.5)
        result = client.stop()
    except BaseException:
        client.abort()
        raise

    assert not result.unexpected, result.unexpected[:5]
    # Requests already committing when the outage began may still answer 200; past that,
    # only "retry later" answers until the store is back.
    during = result.statuses(cut_at + 0.5, restored_at)
    assert 503 in during, during
    assert during <= {503, 429}, during
    assert result.statuses() <= {200, 503, 429}, result.statuses()
    back = result.first_success_after(restored_at)
    assert back is not None and back - restored_at < RECOVERY_BOUND_S
    with capsys.disabled():
        print(f"\n[outage] {len(result.acked)} events acknowledged, "
              f"{sum(a.status == 503 for a in result.answers)} answers 503; ingest back "
              f"{(back - restored_at) * 1000:.0f} ms after the store")

    stored = {r.id for r in live.rows("SELECT id FROM activities")}
    assert live.scalar("SELECT count(*) FROM activities") == len(stored)  # no duplicates
    assert stored == result.acked  # nothing lost, nothing extra


def test_fault_injection_postgresql_cut_under_load(proxied, capsys):
    live, proxy = proxied
    app = live.create_app(rateLimitPerMinute=1_000_000)
    _load_under_outage(live, app.public, proxy.cut, proxy.restore, capsys)


@pytest.fixture
def locked_sqlite(backend, database_url, redis_url) -> Iterator[LiveServer]:
    if backend[0] != "sqlite":
        pytest.skip("SQLite's outage: its file locked by another writer")
    srv, thread, base = start_live_server(make_settings(database_url, redis_url,
                                                        write_timeout_ms=300))
    engine = open_engine(database_url)
    with httpx.Client(base_url=base, timeout=30) as client:
        yield LiveServer(client=client, engine=engine, base_url=base)
    srv.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


class FileLock:
    """Another process's write transaction holding SQLite's write lock."""

    def __init__(self, database_url: str):
        self.path = make_url(database_url).database
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def take(self) -> None:
        self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=10,
                                     check_same_thread=False)
        self._conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        assert self._conn is not None
        self._conn.execute("ROLLBACK")
        self._conn.close()


def test_sqlite_locked_file_answers_503_then_recovers(locked_sqlite, database_url, capsys):
    live = locked_sqlite
    app = live.create_app()
    assert live.track(app.public, _track_body()).status_code == 200
    lock = FileLock(database_url)
    lock.take()
    try:
        _assert_store_503(live.track(app.public, _track_body()), "track", ("growthkit.db",))
        _assert_store_503(live.client.patch("/api/v1/leads/fp_outage", json={"name": "A"},
                                            headers={"Authorization": f"Bearer {app.secret}"}),
                          "PATCH lead", ("growthkit.db",))
        # Readers never wait for SQLite's writer (WAL): queries keep answering.
        r = live.client.get("/api/v1/activities",
                            headers={"Authorization": f"Bearer {app.secret}"})
        assert r.status_code == 200 and len(r.json()["data"]) == 1
    finally:
        released = time.monotonic()
        lock.release()
    took = _wait_for_ingest(live, app.public, released)
    with capsys.disabled():
        print(f"\n[outage] SQLite lock released -> first event stored after "
              f"{took * 1000:.0f} ms")
    assert live.scalar("SELECT count(*) FROM activities") == 2


def test_fault_injection_sqlite_locked_under_load(locked_sqlite, database_url, capsys):
    live = locked_sqlite
    app = live.create_app(rateLimitPerMinute=1_000_000)
    lock = FileLock(database_url)
    _load_under_outage(live, app.public, lock.take, lock.release, capsys)


def test_health_degraded_while_the_writer_is_stalled(backend, database_url, redis_url):
    if backend[0] != "sqlite":
        pytest.skip("the stall is made with SQLite's write lock")
    srv, thread, base = start_live_server(make_settings(
        database_url, redis_url, write_timeout_ms=4000, write_stall_seconds=0.3))
    engine = open_engine(database_url)
    live = LiveServer(client=httpx.Client(base_url=base, timeout=30), engine=engine,
                      base_url=base)
    try:
        app = live.create_app()
        assert live.client.get("/health").json() == {"status": "up"}
        lock = FileLock(database_url)
        lock.take()
        # A write waits for the lock (up to 4 s): the writer is stuck in that commit.
        stuck = threading.Thread(target=live.track, args=(app.public, _track_body()))
        stuck.start()
        try:
            deadline = time.monotonic() + RECOVERY_BOUND_S
            while (health := live.client.get("/health")).status_code == 200:
                assert time.monotonic() < deadline, "/health never said degraded"
                time.sleep(0.05)
            assert health.status_code == 503 and "retry-after" in health.headers
            assert health.json() == {"status": "degraded",
                                     "error": "the event writer is not taking events"}
        finally:
            lock.release()
            stuck.join(timeout=30)
        deadline = time.monotonic() + RECOVERY_BOUND_S
        while live.client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, "/health did not come back up"
            time.sleep(0.05)
    finally:
        live.client.close()
        srv.should_exit = True
        thread.join(timeout=10)
        engine.dispose()
