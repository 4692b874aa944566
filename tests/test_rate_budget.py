"""Rate limits charge only what is stored; per-app ceilings; the limiter's memory stays bounded."""

from __future__ import annotations

import json

import pytest
from harness import REDIS_URL
from test_cli import cli
from test_track import _install_failing_trigger

from growthkit.server.ratelimit import MemoryWindows


def batch(*events, fingerprint="fp_1"):
    return {"fingerprint": fingerprint, "events": list(events)}


def ev(event_id, name="page_viewed"):
    return {"id": event_id, "eventName": name}


@pytest.mark.all_backends
def test_retried_duplicates_are_not_charged(server):
    """Reproducer: eleven retries of a stored batch used up the budget; then 429."""
    app = server.create_app(rateLimitPerMinute=20)
    stored = batch(*[ev(f"a{i}") for i in range(10)])
    assert server.track(app.public, stored).json()["accepted"] == 10
    for _ in range(11):
        r = server.track(app.public, stored)
        assert r.status_code == 200 and r.json() == {"accepted": 0, "duplicates": 10,
                                                     "rejected": []}
    r = server.track(app.public, batch(*[ev(f"b{i}") for i in range(10)]))
    assert r.status_code == 200 and r.json()["accepted"] == 10
    # The budget still holds: 20 stored this minute, the next event is limited.
    assert server.track(app.public, batch(ev("c"))).status_code == 429
    assert server.scalar("SELECT count(*) FROM activities") == 20


@pytest.mark.all_backends
def test_failed_writes_are_not_charged(server):
    """Reproducer: 503 answers during a store failure charged the fingerprint's budget."""
    app = server.create_app(rateLimitPerMinute=10)
    _install_failing_trigger(server)
    poisoned = batch(*[ev(f"p{i}") for i in range(9)], ev("boom", "boom"))
    for _ in range(10):
        assert server.track(app.public, poisoned).status_code == 503
    r = server.track(app.public, batch(*[ev(f"p{i}") for i in range(10)]))
    assert r.status_code == 200 and r.json()["accepted"] == 10
    assert server.scalar("SELECT count(*) FROM activities") == 10


@pytest.mark.all_backends
def test_app_events_ceiling(server):
    app = server.create_app(rateLimitPerMinute=1000)
    headers = {"Authorization": f"Bearer {app.secret}"}
    r = server.client.patch("/api/v1/app", json={"appEventsPerMinute": 15}, headers=headers)
    assert r.status_code == 200 and r.json()["settings"]["appEventsPerMinute"] == 15
    assert server.track(app.public, batch(*[ev(f"a{i}") for i in range(10)])).json()[
        "accepted"] == 10
    r = server.track(app.public, batch(*[ev(f"b{i}") for i in range(10)], fingerprint="fp_2"))
    body = r.json()
    assert r.status_code == 200 and body["accepted"] == 5 and r.headers["Retry-After"]
    assert [x["index"] for x in body["rejected"]] == [5, 6, 7, 8, 9]
    assert body["rejected"][0]["error"] == ("rate limit: over 15 events per minute for this "
                                            "app (appEventsPerMinute)")
    r = server.track(app.public, batch(ev("c"), fingerprint="fp_3"))
    assert r.status_code == 429 and "appEventsPerMinute" in r.json()["error"]
    # The refused events were not charged to their fingerprint either.
    r = server.client.patch("/api/v1/app", json={"appEventsPerMinute": None}, headers=headers)
    assert r.status_code == 200 and r.json()["settings"]["appEventsPerMinute"] is None
    assert server.track(app.public, batch(*[ev(f"d{i}") for i in range(100)],
                                          fingerprint="fp_2")).json()["accepted"] == 100
    assert server.scalar("SELECT count(*) FROM activities") == 115


@pytest.mark.all_backends
def test_app_new_leads_ceiling(server):
    app = server.create_app(appNewLeadsPerMinute=3)
    codes = [server.track(app.public, batch(ev(f"e{i}"), fingerprint=f"fp_{i}")).status_code
             for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = server.track(app.public, batch(ev("again"), fingerprint="fp_4"))
    assert "3 new leads per minute" in r.json()["error"]
    # Known leads are not new: they keep sending.
    assert server.track(app.public, batch(ev("old"), fingerprint="fp_0")).status_code == 200
    assert server.scalar("SELECT count(*) FROM leads") == 3


def test_ceilings_are_off_by_default_and_settable_by_cli(database_url):
    created = json.loads(cli(database_url, "create-app", "Shop", "--json").stdout)
    shown = json.loads(cli(database_url, "app-settings", created["id"], "--json").stdout)
    assert shown["appEventsPerMinute"] is None and shown["appNewLeadsPerMinute"] is None
    changed = json.loads(cli(database_url, "app-settings", "Shop", "--app-events-per-minute",
                             "5000", "--app-new-leads-per-minute", "50", "--json").stdout)
    assert changed["appEventsPerMinute"] == 5000 and changed["appNewLeadsPerMinute"] == 50
    off = json.loads(cli(database_url, "app-settings", "Shop", "--app-events-per-minute", "0",
                         "--json").stdout)
    assert off["appEventsPerMinute"] is None and off["appNewLeadsPerMinute"] == 50
    bad = cli(database_url, "app-settings", "Shop", "--app-new-leads-per-minute", "-3",
              check=False)
    assert bad.returncode == 2 and "appNewLeadsPerMinute must be a whole number" in bad.stderr


def test_memory_limiter_forgets_idle_budgets_and_is_capped():
    windows = MemoryWindows(max_keys=1000)
    t0 = 6_000_000.0  # the start of a minute
    for i in range(1000):
        assert windows.grant(("app", f"fp{i}"), 1, 100, t0) == 1
    assert len(windows) == 1000
    # More keys than the cap: the least recently used are forgotten, never more are held.
    for i in range(1000, 1500):
        windows.grant(("app", f"fp{i}"), 1, 100, t0 + 1)
    assert len(windows) == 1000
    # Two minutes later every old budget counts for nothing, so it is dropped on the way.
    windows.grant(("app", "new"), 1, 100, t0 + 121)
    windows.grant(("app", "new2"), 1, 100, t0 + 121)
    assert len(windows) == 2
    # A budget still in use keeps its count across the minute boundary (sliding window).
    assert windows.grant(("app", "new"), 150, 100, t0 + 150) == 99
    # One second into the next minute, 59/60 of the previous minute's 100 still count.
    assert windows.grant(("app", "new"), 10, 100, t0 + 181) == 2


@pytest.mark.skipif(not REDIS_URL, reason="GROWTHKIT_TEST_REDIS_URL not set")
@pytest.mark.parametrize("backend", [("sqlite", "redis")], indirect=True)
def test_redis_budgets_expire_on_their_own(server):
    from redis import Redis

    app = server.create_app()
    for i in range(5):
        server.track(app.public, batch(ev(f"e{i}"), fingerprint=f"fp_ttl_{i}"))
    redis = Redis.from_url(REDIS_URL)
    keys = [k for k in redis.scan_iter(f"gk:rl:{{{app.id}:*")]
    assert len(keys) == 5
    assert all(0 < redis.pttl(k) <= 120_000 for k in keys)
    redis.close()


@pytest.mark.skipif(not REDIS_URL, reason="GROWTHKIT_TEST_REDIS_URL not set")
@pytest.mark.parametrize("backend", [("sqlite", "redis")], indirect=True)
def test_redis_outage_answers_503_not_500_and_recovers(database_url):
    """With the shared limiter unreachable nothing is stored and the answer is a 503 the
    tracker retries; once Redis is back, ingest resumes without a restart."""
    from fastapi.testclient import TestClient
    from harness import Server, make_settings
    from tcp_proxy import TcpProxy
    from test_writer import wait_until

    from growthkit.server.app import create_app

    proxy, url = TcpProxy.for_url(REDIS_URL)
    app = create_app(make_settings(database_url, url))
    try:
        with TestClient(app) as client:
            server = Server(client=client, engine=app.state.growthkit.engine)
            keys = server.create_app()
            assert server.track(keys.public, batch(ev("before"))).status_code == 200
            proxy.cut()
            r = server.track(keys.public, batch(ev("during")))
            assert r.status_code == 503 and r.headers["Retry-After"] == "1"
            assert "rate limiter (Redis) is unreachable" in r.json()["error"]
            proxy.restore()
            wait_until(lambda: server.track(keys.public, batch(ev("during"))).status_code
                       == 200)
            ids = sorted(x.id for x in server.rows("SELECT id FROM activities"))
            assert ids == ["before", "during"]
    finally:
        proxy.cut()
