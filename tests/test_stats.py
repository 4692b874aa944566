"""GET /api/v1/stats and /analytics/events through HTTP, against numbers worked out by hand.

Each analytic is checked twice: straight from raw rows, and after the 15-minute rollups
were refreshed (so the rollup path must give the very same answer).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from harness import Server, make_settings

from growthkit.core.clock import parse_time
from growthkit.core.rollups import refresh_rollups
from growthkit.server.app import create_app

OLD_RETENTION = {"rateLimitPerMinute": 100_000, "retentionDays": 3650}


def t(iso: str) -> int:
    return parse_time(iso)


def seed(server, key: str, rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (ISO time, fingerprint, sessionId, eventName)."""
    for when, fp, session, name in rows:
        r = server.track(key, {"fingerprint": fp, "sessionId": session,
                               "events": [{"eventName": name, "timestamp": t(when)}]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def get(server, key: str, path: str, **params):
    r = server.client.get(f"/api/v1{path}", params=params,
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


# Previous period 2024-05-06, current 2024-05-07 (UTC days).
FIXTURE = [
    ("2024-05-05T23:59:59.999Z", "fp_9", "s_0", "page_viewed"),  # before both periods
    ("2024-05-06T10:00:00Z", "fp_1", "s_1", "page_viewed"),
    ("2024-05-06T10:05:00Z", "fp_1", "s_1", "page_viewed"),
    ("2024-05-06T11:00:00Z", "fp_2", "s_2", "signup_completed"),
    ("2024-05-07T09:00:00Z", "fp_1", "s_3", "page_viewed"),
    ("2024-05-07T09:10:00Z", "fp_1", "s_3", "page_viewed"),
    ("2024-05-07T09:20:00Z", "fp_1", "s_3", "button_clicked"),
    ("2024-05-07T15:07:30Z", "fp_2", "s_5", "page_viewed"),
    ("2024-05-07T23:30:00Z", "fp_3", "s_4", "page_viewed"),
    ("2024-05-07T23:45:00Z", "fp_3", "s_4", "signup_completed"),
    ("2024-05-08T00:00:00Z", "fp_9", "s_0", "page_viewed"),  # `to` is exclusive
]
DAY = {"from": "2024-05-07T00:00:00Z", "to": "2024-05-08T00:00:00Z"}


def check_quick_stats(s: dict) -> None:
    assert (s["from"], s["to"]) == ("2024-05-07T00:00:00.000Z", "2024-05-08T00:00:00.000Z")
    assert (s["events"], s["uniqueUsers"], s["sessions"]) == (6, 3, 3)
    assert s["eventsPerHour"] == 0.25 and s["eventsLastHour"] == 2
    assert s["timeZone"] == "UTC" and s["source"] == "events"
    prev = s["previous"]
    assert (prev["events"], prev["uniqueUsers"], prev["sessions"]) == (3, 2, 2)
    assert prev["from"] == "2024-05-06T00:00:00.000Z"
    assert prev["eventsPerHour"] == pytest.approx(0.125, abs=0.006)
    assert s["change"] == {"events": 100.0, "uniqueUsers": 50.0, "sessions": 50.0,
                           "eventsPerHour": 100.0}
    assert s["topEvents"] == [
        {"eventName": "page_viewed", "count": 4, "previousCount": 2, "change": 100.0},
        {"eventName": "button_clicked", "count": 1, "previousCount": 0, "change": None},
        {"eventName": "signup_completed", "count": 1, "previousCount": 1, "change": 0.0},
    ]
    series = s["series"]
    assert series["interval"] == "hour" and len(series["points"]) == 24
    counts = {p["start"][11:16]: p["events"] for p in series["points"] if p["events"]}
    assert counts == {"09:00": 3, "15:00": 1, "23:00": 2}


def test_quick_stats_match_hand_computed_numbers(server):
    app = server.create_app(**OLD_RETENTION)
    seed(server, app.public, FIXTURE)
    check_quick_stats(get(server, app.secret, "/stats", **DAY))
    refresh_rollups(server.engine, settle_ms=0)
    assert server.scalar("SELECT SUM(events) FROM rollup_counts") == len(FIXTURE)
    check_quick_stats(get(server, app.secret, "/stats", **DAY, top=10))


def test_stats_filters_and_time_zone_buckets(server):
    app = server.create_app(**OLD_RETENTION)
    seed(server, app.public, FIXTURE)
    for attempt in range(2):
        s = get(server, app.secret, "/stats", **DAY, eventName="page_viewed", top=1 + attempt)
        assert (s["events"], s["uniqueUsers"], s["sessions"]) == (4, 3, 3)
        assert s["previous"]["events"] == 2 and s["topEvents"][0]["count"] == 4
        # Kathmandu is UTC+05:45: local hours start at :15 UTC. 09:00Z and 09:10Z fall in
        # 14:00 local (08:15Z), 09:20Z in 15:00 local (09:15Z), 15:07:30Z in 20:00 (14:15Z).
        k = get(server, app.secret, "/stats", **DAY, tz="Asia/Kathmandu", top=1 + attempt)
        assert k["timeZone"] == "Asia/Kathmandu"
        points = {p["start"]: p["events"] for p in k["series"]["points"] if p["events"]}
        assert points == {"2024-05-07T08:15:00.000Z": 2, "2024-05-07T09:15:00.000Z": 1,
                          "2024-05-07T14:15:00.000Z": 1, "2024-05-07T23:15:00.000Z": 2}
        lead = get(server, app.secret, "/stats", **DAY, fingerprint="fp_1", top=1 + attempt)
        assert (lead["events"], lead["uniqueUsers"], lead["sessions"]) == (3, 1, 1)
        refresh_rollups(server.engine, settle_ms=0)


def test_stats_default_range_app_zone_and_isolation(server):
    app = server.create_app(rateLimitPerMinute=1000, timeZone="Europe/Berlin")
    other = server.create_app("Other", rateLimitPerMinute=1000)
    server.track(app.public, {"fingerprint": "fp_a", "events": [{"eventName": "a"}] * 3})
    server.track(other.public, {"fingerprint": "fp_b", "events": [{"eventName": "b"}] * 5})
    s = get(server, app.secret, "/stats")
    assert s["timeZone"] == "Europe/Berlin"
    assert parse_time(s["to"]) - parse_time(s["from"]) == 86_400_000
    assert (s["events"], s["uniqueUsers"], s["eventsLastHour"]) == (3, 1, 3)
    assert s["topEvents"] == [{"eventName": "a", "count": 3, "previousCount": 0,
                               "change": None}]
    assert get(server, other.secret, "/stats", tz="UTC")["events"] == 5


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401), ({"Authorization": "Bearer sk_nope"}, 401), ("public", 403)])
@pytest.mark.parametrize("path", ["/stats", "/analytics/events", "/analytics/heatmap"])
def test_keys(server, path, headers, status):
    app = server.create_app()
    if headers == "public":
        headers = {"Authorization": f"Bearer {app.public}"}
    r = server.client.get(f"/api/v1{path}", headers=headers)
    assert r.status_code == status and r.json()["status"] == status


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/stats", {"tz": "Mars/Olympus"}, "tz"),
    ("/stats", {"from": "2024-05-08", "to": "2024-05-07"}, "from"),
    ("/stats", {"from": "yesterday"}, "from"),
    ("/stats", {"top": "0"}, "top"),
    ("/analytics/events", {"interval": "month"}, "interval"),
    ("/analytics/events", {"interval": "hour", "from": "2000-01-01"}, "interval=hour"),
])
def test_bad_parameters_name_the_field(server, path, params, field):
    app = server.create_app()
    r = server.client.get(f"/api/v1{path}", params=params,
                          headers={"Authorization": f"Bearer {app.secret}"})
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


# Around the US fall-back: 2024-11-03 02:00 EDT became 01:00 EST (06:00Z), so local
# Nov 3 is 25 hours long and 01:00-02:00 happens twice.
NY_FIXTURE = [
    ("2024-11-02T03:59:00Z", "fp_1", "s_1", "a"),  # Nov 1 23:59 EDT: before the range
    ("2024-11-02T12:00:00Z", "fp_1", "s_1", "a"),  # Nov 2
    ("2024-11-03T05:30:00Z", "fp_1", "s_2", "a"),  # Nov 3 01:30 EDT
    ("2024-11-03T06:30:00Z", "fp_2", "s_3", "b"),  # Nov 3 01:30 EST (the repeated hour)
    ("2024-11-04T04:30:00Z", "fp_2", "s_3", "a"),  # Nov 3 23:30 EST (a Nov 4 UTC date)
    ("2024-11-05T04:59:59Z", "fp_3", "s_4", "b"),  # Nov 4 23:59:59 EST
    # previous period (3 days before 2024-11-02 00:00 EDT)
    ("2024-10-31T10:00:00Z", "fp_1", "s_0", "b"),
    ("2024-10-31T11:00:00Z", "fp_1", "s_0", "b"),
    ("2024-10-31T12:00:00Z", "fp_1", "s_0", "c"),
]


def test_frequency_by_local_day_across_fall_back(server):
    app = server.create_app(**OLD_RETENTION, timeZone="America/New_York")
    seed(server, app.public, NY_FIXTURE)
    rng = {"from": "2024-11-02T04:00:00Z", "to": "2024-11-05T05:00:00Z"}
    for attempt in range(2):
        f = get(server, app.secret, "/analytics/events", **rng, interval="day",
                limit=1 + attempt)
        assert f["timeZone"] == "America/New_York" and f["interval"] == "day"
        assert f["buckets"] == ["2024-11-02T04:00:00.000Z", "2024-11-03T04:00:00.000Z",
                                "2024-11-04T05:00:00.000Z"]
        # The previous period is as long (73 h): from 2024-10-30T03:00Z.
        assert f["totals"] == [1, 3, 1] and f["total"] == 5 and f["previousTotal"] == 4
        assert f["change"] == 25.0
        assert f["events"] == [
            {"eventName": "a", "count": 3, "rank": 1, "share": 0.6, "previousCount": 1,
             "previousRank": 2, "change": 200.0},
            {"eventName": "b", "count": 2, "rank": 2, "share": 0.4, "previousCount": 2,
             "previousRank": 1, "change": 0.0},
            {"eventName": "c", "count": 0, "rank": 3, "share": 0.0, "previousCount": 1,
             "previousRank": 3, "change": -100.0},
        ]
        assert f["series"][0] == {"eventName": "a", "counts": [1, 2, 0]}
        assert len(f["series"]) == 1 + attempt
        refresh_rollups(server.engine, settle_ms=0)


def test_hourly_buckets_merge_the_repeated_hour_and_skip_the_missing_one(server):
    app = server.create_app(**OLD_RETENTION)
    seed(server, app.public, NY_FIXTURE + [
        ("2024-03-31T00:30:00Z", "fp_1", "s_9", "a"),  # Berlin 01:30 CET
        ("2024-03-31T01:30:00Z", "fp_1", "s_9", "a"),  # Berlin 03:30 CEST (02:00 skipped)
    ])
    for attempt in range(2):
        ny = get(server, app.secret, "/analytics/events", interval="hour",
                 tz="America/New_York", **{"from": "2024-11-03T04:00:00Z",
                                           "to": "2024-11-04T05:00:00Z"}, limit=attempt + 1)
        assert len(ny["buckets"]) == 24  # 25 real hours, 24 wall-clock hours
        assert ny["buckets"][1:3] == ["2024-11-03T05:00:00.000Z", "2024-11-03T07:00:00.000Z"]
        assert ny["totals"][1] == 2 and ny["totals"][23] == 1 and sum(ny["totals"]) == 3
        berlin = get(server, app.secret, "/analytics/events", interval="hour",
                     tz="Europe/Berlin", **{"from": "2024-03-30T23:00:00Z",
                                            "to": "2024-03-31T22:00:00Z"}, limit=attempt + 1)
        assert len(berlin["buckets"]) == 23
        assert berlin["buckets"][1:3] == ["2024-03-31T00:00:00.000Z",
                                          "2024-03-31T01:00:00.000Z"]
        assert berlin["totals"][1:3] == [1, 1]
        week = get(server, app.secret, "/analytics/events", interval="week", tz="UTC",
                   **{"from": "2024-10-28T00:00:00Z", "to": "2024-11-11T00:00:00Z"},
                   limit=attempt + 1)
        assert week["buckets"] == ["2024-10-28T00:00:00.000Z", "2024-11-04T00:00:00.000Z"]
        assert week["totals"] == [7, 2]  # Mondays; 2024-11-04T04:30Z is in the second week
        refresh_rollups(server.engine, settle_ms=0)


def test_late_events_after_a_refresh_are_counted(server):
    app = server.create_app(**OLD_RETENTION)
    seed(server, app.public, FIXTURE)
    refresh_rollups(server.engine, settle_ms=0)
    # An offline client sends events of a day that is already rolled up.
    seed(server, app.public, [("2024-05-07T09:05:00Z", "fp_4", "s_7", "page_viewed")])
    s = get(server, app.secret, "/stats", **DAY)
    assert (s["events"], s["uniqueUsers"]) == (7, 4)
    refresh_rollups(server.engine, settle_ms=0)
    assert get(server, app.secret, "/stats", **DAY, top=9)["events"] == 7
    assert server.scalar("SELECT SUM(events) FROM rollup_counts") == len(FIXTURE) + 1


def test_answers_are_cached_briefly_per_app_and_query(database_url, redis_url):
    app = create_app(make_settings(database_url, redis_url, query_cache_seconds=60))
    with TestClient(app) as client:
        server = Server(client=client, engine=app.state.growthkit.engine)
        one, two = server.create_app("One"), server.create_app("Two")
        server.track(one.public, {"fingerprint": "fp", "events": [{"eventName": "x"}]})
        url = "/api/v1/stats?tz=UTC"
        first = client.get(url, headers={"Authorization": f"Bearer {one.secret}"})
        server.track(one.public, {"fingerprint": "fp", "events": [{"eventName": "x"}]})
        again = client.get(url, headers={"Authorization": f"Bearer {one.secret}"})
        assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
        assert again.json() == first.json() and first.json()["events"] == 1
        fresh = client.get(url + "&top=5", headers={"Authorization": f"Bearer {one.secret}"})
        assert fresh.headers["x-cache"] == "miss" and fresh.json()["events"] == 2
        other = client.get(url, headers={"Authorization": f"Bearer {two.secret}"})
        assert other.headers["x-cache"] == "miss" and other.json()["events"] == 0
