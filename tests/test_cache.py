"""The console's local cache against the real app: incremental sync by cursor (a second sync
fetches only what is new), live events appended, full-text search, age bound, and answers
from the file while the server is stopped."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import timedelta

import httpx
import pytest

from growthkit.api_client import Client, ServerUnavailable
from growthkit.api_client.cache import LocalCache, cache_dir
from growthkit.core.clock import now_ms
from growthkit.core.events import Event
from growthkit.core.ingest import store_events
from growthkit.core.store import write_connection

MIN = 60_000
DAY = 86_400_000


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """The user data folder (where caches live) inside the test's own folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def rows(path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def store(engine, app_id: str, fp: str, names: list[str], at: int, received: int) -> None:
    """Events written straight into the store, received `received` ms ago (long settled)."""
    events = [Event(str(uuid.uuid4()), fp, name, {"n": name}, {}, f"s_{fp}", at + i * MIN,
                    now_ms() - received) for i, name in enumerate(names)]
    with write_connection(engine) as conn, conn.begin():
        assert len(store_events(conn, app_id, events).stored) == len(names)


def stop(live) -> None:
    live.uvicorn.should_exit = True
    live.uvicorn.force_exit = True
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{live.base_url}/health", timeout=0.5)
        except httpx.TransportError:
            return
        time.sleep(0.05)
    raise AssertionError("the server did not stop")


def test_sync_is_incremental_and_answers_with_the_server_stopped(live_server):
    app = live_server.create_app("Cached", rateLimitPerMinute=10_000, initialCredits=2)
    t = now_ms() - 3 * 3_600_000
    store(live_server.engine, app.id, "fp_a", ["page_viewed", "signup"], t, received=5 * MIN)
    store(live_server.engine, app.id, "fp_old", ["page_viewed"], now_ms() - 40 * DAY,
          received=5 * MIN)
    client = Client(live_server.base_url, app.secret)
    cache = LocalCache(client)
    assert cache.path.parent == cache_dir() and app.id in cache.path.name
    seen = []
    first = cache.sync(progress=lambda *a: seen.append(a))
    # The last 30 days only (the default age bound): fp_old's event is not fetched.
    assert (first.activities, first.leads) == (2, 1)
    assert ("activities", 2, 2) in seen
    assert rows(cache.path, "SELECT count(*) FROM activities") == [(2,)]

    live_server.track(app.public, {"fingerprint": "fp_b", "events": [
        {"eventName": "page_viewed"}, {"eventName": "checkout_started"}]})
    r = httpx.post(f"{live_server.base_url}/api/v1/credits", json={
        "fingerprint": "fp_a", "amount": 5, "action": "purchase"},
        headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 200, r.text
    second = cache.sync()
    assert second.activities == 2  # only the new rows came over
    assert second.credit_operations == 2  # fp_a's starting grant and the purchase
    assert second.leads == 2  # the leads the new rows name: fp_b, fp_a
    assert sorted(rows(cache.path, "SELECT fingerprint, events FROM leads")) == [
        ("fp_a", 2), ("fp_b", 2)]
    assert [r["eventName"] for r in cache.search("checkout")] == ["checkout_started"]

    source = cache.source()
    online = client.stats(start=t - DAY, end=now_ms() + MIN).to_json()
    stop(live_server)
    with pytest.raises(ServerUnavailable):
        client.stats()
    offline = source.stats(start=online["from"], end=online["to"]).to_json()
    assert offline == online
    assert source.lead("fp_a").to_json()["creditBalance"] == 7
    # The cache opens again with the server down: the key's cache is found by the index.
    again = LocalCache(Client(live_server.base_url, app.secret, retries=0))
    assert again.path == cache.path
    assert again.source().stats(start=online["from"], end=online["to"]).events == 4
    with pytest.raises(ServerUnavailable):
        again.sync()
    cache.close()
    again.close()


def test_live_events_are_appended_and_searchable(server, tmp_path):
    app = server.create_app("Live", rateLimitPerMinute=10_000)
    client = Client(server.base_url, app.secret, http=server.client)
    cache = LocalCache(client, path=tmp_path / "cache.db")
    cache.sync()
    server.track(app.public, {"fingerprint": "fp_1", "events": [
        {"eventName": "plan_upgraded", "properties": {"plan": "Enterprise"}}]})
    streamed = client.activities(limit=1).to_list()  # as the live stream delivers them
    assert cache.append(streamed) == 1
    assert cache.append(streamed) == 1  # a row already cached is replaced, not doubled
    assert rows(cache.path, "SELECT count(*), max(event_name) FROM activities") == [
        (1, "plan_upgraded")]
    assert [a["eventName"] for a in cache.search("enterPRISE")] == ["plan_upgraded"]
    with pytest.raises(ValueError, match="at least 3 characters"):
        cache.search("en")
    # The console syncs on a worker thread, not the one that opened the cache.
    synced: list = []
    worker = threading.Thread(target=lambda: synced.append(cache.sync()))
    worker.start()
    worker.join(timeout=60)
    assert synced and synced[0].activities in (0, 1)  # PostgreSQL reads young rows again
    assert rows(cache.path, "SELECT count(*) FROM activities") == [(1,)]
    cache.close()


def test_events_past_the_age_bound_become_daily_aggregates(server, tmp_path):
    app = server.create_app("Aged", rateLimitPerMinute=10_000)
    today = now_ms() // DAY * DAY
    store(server.engine, app.id, "fp_1", ["a", "b"], today - 5 * DAY + 3_600_000,
          received=10 * MIN)
    store(server.engine, app.id, "fp_1", ["c"], now_ms() - 3_600_000, received=10 * MIN)
    client = Client(server.base_url, app.secret, http=server.client)
    cache = LocalCache(client, path=tmp_path / "aged.db", max_age=timedelta(days=10))
    assert cache.sync().deleted == 0
    assert rows(cache.path, "SELECT count(*) FROM activities") == [(3,)]
    cache.max_age = timedelta(days=2)
    assert cache.sync().deleted == 2
    assert rows(cache.path, "SELECT event_name FROM activities") == [("c",)]
    assert rows(cache.path, "SELECT events FROM leads") == [(3,)]  # the server's count
    week = {"start": today - 7 * DAY, "end": today + DAY, "tz": "UTC"}
    local = cache.source().stats(**week).to_json()
    assert local["events"] == 3 and local["source"] == "partial"
    with pytest.raises(ValueError, match="max_age"):
        LocalCache(client, path=tmp_path / "x.db", max_age=timedelta(hours=1))
    cache.close()


def test_the_size_bound_rolls_up_the_oldest_days(server, tmp_path):
    app = server.create_app("Big", rateLimitPerMinute=10_000)
    today = now_ms() // DAY * DAY
    padding = "x" * 400  # about 1 KiB a row with its indexes: 2,000 rows outgrow 1 MiB
    for day in range(4, 0, -1):
        events = [Event(str(uuid.uuid4()), f"fp_{i % 50}", "page_viewed", {"pad": padding},
                        {}, f"s_{day}_{i % 50}", today - day * DAY + i * 1000,
                        now_ms() - 10 * MIN) for i in range(500)]
        with write_connection(server.engine) as conn, conn.begin():
            store_events(conn, app.id, events)
    client = Client(server.base_url, app.secret, http=server.client)
    cache = LocalCache(client, path=tmp_path / "big.db", max_bytes=1024**2)
    result = cache.sync()
    assert result.activities == 2000 and result.deleted >= 500
    kept = rows(cache.path, "SELECT min(timestamp) FROM activities")[0][0]
    assert kept >= today - 3 * DAY  # whole days went, the oldest first
    assert cache._replica.used_bytes() <= 1024**2 or kept >= today - DAY
    # What was deleted still counts: the days became daily aggregates.
    stats = cache.source().stats(start=today - 5 * DAY, end=today, tz="UTC").to_json()
    assert stats["events"] == 2000 and stats["source"] == "partial"
    cache.close()
