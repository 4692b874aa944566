"""The group-commit writer: a stuck store answers 503 (never a hang), ingest recovers by
itself, and a real `growthkit serve` drains and exits on SIGTERM."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from harness import Server, backend_param, free_port, make_settings
from sqlalchemy import create_engine, make_url
from test_cli import cli

from growthkit.server.app import create_app


def batch(*ids, fingerprint="fp_1"):
    return {"fingerprint": fingerprint, "events": [{"id": i, "eventName": "e"} for i in ids]}


def wait_until(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def _lock_store(database_url: str):
    """Hold the store's write lock from outside the server: what a stuck store looks like."""
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    conn = engine.connect()
    if engine.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("LOCK TABLE activities IN EXCLUSIVE MODE")
    return engine, conn


def test_a_stuck_store_answers_503_at_once_and_ingest_recovers(database_url, redis_url):
    settings = make_settings(database_url, redis_url, write_stall_seconds=1,
                             write_timeout_ms=60_000)
    app = create_app(settings)
    with TestClient(app) as client:
        server = Server(client=client, engine=app.state.growthkit.engine)
        writer = app.state.growthkit.writer
        keys = server.create_app()
        assert server.track(keys.public, batch("before")).status_code == 200
        engine, lock = _lock_store(database_url)
        try:
            with ThreadPoolExecutor(1) as pool:
                stuck = pool.submit(server.track, keys.public, batch("stuck"))
                wait_until(lambda: not writer.healthy)
                fast = server.track(keys.public, batch("refused"))
                assert fast.status_code == 503 and fast.headers["Retry-After"] == "1"
                assert "has not finished a write for over 1 s" in fast.json()["error"]
                slow = stuck.result(timeout=30)
            assert slow.status_code == 503
            assert "did not confirm the write within 2 s" in slow.json()["error"]
        finally:
            lock.rollback()
            lock.close()
            engine.dispose()
        wait_until(lambda: writer.healthy)
        after = server.track(keys.public, batch("after", "stuck"))
        assert after.status_code == 200
        # The stuck write committed once the lock was gone: its retry is a duplicate.
        assert after.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
        ids = sorted(r.id for r in server.rows("SELECT id FROM activities"))
        assert ids == ["after", "before", "stuck"]


def _serve(database_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "GROWTHKIT_DATABASE_URL": database_url, "GROWTHKIT_LOG_LEVEL": "info"}
    proc = subprocess.Popen([sys.executable, "-m", "growthkit", "serve", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output, deadline = "", time.monotonic() + 30
    while "Application startup complete" not in output:
        assert time.monotonic() < deadline and proc.poll() is None, output
        output += proc.stdout.readline()
    return proc


@pytest.mark.parametrize("backend", [backend_param("sqlite", "memory"),
                                     backend_param("postgresql", "memory")], indirect=True)
def test_sigterm_under_load_drains_and_exits_after_a_poison_request(database_url):
    """Reproducer: after a 255-deep body the writer was dead and SIGTERM could not stop
    the server. Now the server keeps ingesting, and SIGTERM drains and exits."""
    created = json.loads(cli(database_url, "create-app", "Shop", "--rate-limit", "100000",
                             "--json").stdout)
    port = free_port()
    proc = _serve(database_url, port)
    url = f"http://127.0.0.1:{port}/api/v1/track"
    headers = {"Authorization": f"Bearer {created['publicKey']}"}
    deep: dict = {"a": 1}
    for _ in range(254):
        deep = {"a": deep}
    answered: dict[str, int] = {}
    stop = threading.Event()

    def load(worker: int) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not stop.is_set():
                ids = [f"w{worker}-{n}-{j}" for j in range(5)]
                n += 1
                try:
                    r = client.post(url, json=batch(*ids, fingerprint=f"fp{worker}"),
                                    headers=headers)
                except httpx.TransportError:  # the server is gone: stop sending
                    return
                for i in ids:
                    answered[i] = r.status_code
    try:
        with httpx.Client(timeout=10) as client:
            r = client.post(url, json={"fingerprint": "f", "events": [
                {"eventName": "x", "properties": deep}]}, headers=headers)
            assert r.status_code == 422
        threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: len(answered) >= 200)
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)  # a hang fails the test here
        stop.set()
        for t in threads:
            t.join(timeout=30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert "Application shutdown complete" in rest and proc.returncode in (0, -signal.SIGTERM)
    ok = {i for i, code in answered.items() if code == 200}
    assert len(ok) >= 200 and set(answered.values()) <= {200, 503}
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        stored = {r[0] for r in conn.exec_driver_sql("SELECT id FROM activities")}
    engine.dispose()
    assert ok <= stored  # every 2xx was durable


@pytest.mark.parametrize("backend", [backend_param("sqlite", "memory")], indirect=True)
def test_sqlite_writers_take_turns_through_the_lock_file(database_url):
    """Server processes on one SQLite file commit one at a time through `<file>.writer-lock`
    (a kernel lock: the next one wakes as the holder commits). While another process holds
    the turn, a request waits (no 2xx before its commit); then its events are committed."""
    settings = make_settings(database_url, None, write_stall_seconds=1)
    app = create_app(settings)
    with TestClient(app) as client:
        server = Server(client=client, engine=app.state.growthkit.engine)
        writer = app.state.growthkit.writer
        keys = server.create_app()
        assert server.track(keys.public, batch("before")).status_code == 200
        with open(f"{make_url(database_url).database}.writer-lock", "a+b") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)  # another process's turn
            try:
                with ThreadPoolExecutor(1) as pool:
                    waiting = pool.submit(server.track, keys.public, batch("waiting"))
                    wait_until(lambda: not writer.healthy)
                    assert client.get("/health").json()["status"] == "degraded"
                    assert waiting.result(timeout=30).status_code == 503
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
        wait_until(lambda: writer.healthy)
        retry = server.track(keys.public, batch("waiting"))
        assert retry.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
        ids = sorted(r.id for r in server.rows("SELECT id FROM activities"))
        assert ids == ["before", "waiting"]


def test_the_rollup_refresh_yields_to_a_steady_ingest_yet_keeps_up(database_url, redis_url,
                                                                    monkeypatch):
    """While requests keep arriving the refresh takes a small share of the write time (ingest
    first), but it never stops: the watermark moves during the stream, and once the stream
    ends the rollups catch up with every stored event (stats answer from them alone)."""
    from growthkit.core import rollups
    from growthkit.server import maintenance

    monkeypatch.setattr(maintenance, "FIRST_ROLLUP_AFTER_S", 0.05)
    monkeypatch.setattr(maintenance, "ROLLUP_EVERY_S", 0.2)
    monkeypatch.setattr(maintenance, "SQLITE_CHUNK_ROWS", 50)
    monkeypatch.setattr(rollups, "SETTLE_MS", 100)
    app = create_app(make_settings(database_url, redis_url))
    with TestClient(app) as client:
        server = Server(client=client, engine=app.state.growthkit.engine)
        keys = server.create_app(rateLimitPerMinute=1_000_000)

        def watermark() -> int:
            return server.scalar("SELECT COALESCE(MAX(seq), 0) FROM rollup_state "
                                 "WHERE name = 'counts'")

        sent, moved_while_busy = 0, set()
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and len(moved_while_busy) < 3:
            r = server.track(keys.public, {"fingerprint": f"fp_{sent % 7}", "events": [
                {"eventName": "page_viewed"}] * 10})
            assert r.status_code == 200 and r.json()["accepted"] == 10
            sent += 10
            moved_while_busy.add(watermark())
        assert len(moved_while_busy - {0}) >= 2, "the refresh stood still under steady ingest"
        wait_until(lambda: watermark() == server.scalar("SELECT MAX(seq) FROM activities"))
        stats = server.client.get("/api/v1/stats", params={"from": "2000-01-01T00:00:00Z"},
                                  headers={"Authorization": f"Bearer {keys.secret}"}).json()
        assert stats["events"] == sent and stats["uniqueUsers"] == 7
