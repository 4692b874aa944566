"""Retention: expired events become daily aggregates and are deleted, and the stats,
frequency and heatmap of the old range answer the same from the aggregates.

Old events are seeded straight into the store (ingest refuses them, as it should).
"""

from __future__ import annotations

import json
import time
import uuid

from click.testing import CliRunner
from fastapi.testclient import TestClient
from harness import Server, make_settings

from growthkit.cli import main
from growthkit.core import apps as core_apps
from growthkit.core.clock import now_ms, parse_time, to_iso
from growthkit.core.events import Event
from growthkit.core.ingest import store_events
from growthkit.core.rollups import refresh_rollups
from growthkit.core.store import migrate, open_engine, write_connection
from growthkit.server import maintenance
from growthkit.server.app import create_app

DAY = 86_400_000
MIN = 60_000
TODAY = now_ms() // DAY * DAY
D = TODAY - 120 * DAY  # a day well past the default 90-day retention

OLD = [  # (ms, fingerprint, session, eventName)
    (D + 60 * MIN, "fp_1", "s_1", "page_viewed"),
    (D + 70 * MIN, "fp_1", "s_1", "page_viewed"),
    (D + 350 * MIN, "fp_2", "s_2", "signup_completed"),
    (D + 1430 * MIN, "fp_3", "s_3", "page_viewed"),
    (D + DAY + 10 * MIN, "fp_3", "s_3", "page_viewed"),  # s_3 runs over midnight
    (D + DAY + 720 * MIN, "fp_1", "s_4", "button_clicked"),
    (D + 2 * DAY + 480 * MIN, "fp_4", "s_5", "page_viewed"),
]


def store_old(engine, app_id: str, rows=OLD) -> None:
    events = [Event(str(uuid.uuid4()), fp, name, None, {}, session, ts, ts)
              for ts, fp, session, name in rows]
    with write_connection(engine) as conn, conn.begin():
        assert len(store_events(conn, app_id, events).stored) == len(rows)


def get(server, key: str, path: str, **params) -> dict:
    r = server.client.get(f"/api/v1{path}", params=params,
                          headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


def span(start: int, end: int) -> dict:
    return {"from": to_iso(start), "to": to_iso(end)}


def without_source(data: dict) -> dict:
    return {k: v for k, v in data.items()
            if k not in ("source", "previousSource", "rolledUpBefore", "complete")}


def answers(server, key: str) -> dict:
    one_day, three_days = span(D, D + DAY), span(D, D + 3 * DAY)
    return {
        "day": get(server, key, "/stats", **one_day, tz="UTC"),
        "days": get(server, key, "/stats", **three_days, tz="UTC"),
        "frequency": get(server, key, "/analytics/events", **three_days, interval="hour",
                         tz="Asia/Kathmandu"),
        "daily": get(server, key, "/analytics/events", **three_days, interval="day",
                     tz="America/New_York", eventName="page_viewed"),
        "heatmap": get(server, key, "/analytics/heatmap", **three_days, tz="Asia/Kathmandu"),
        "users": get(server, key, "/analytics/heatmap", **three_days, metric="users"),
    }


def run_cli(database_url: str, *args: str):
    result = CliRunner().invoke(main, ["retention", "--database-url", database_url, *args])
    assert result.exit_code == 0, result.output
    return result


def test_retention_keeps_totals_and_deletes_old_events(server, database_url):
    app = server.create_app(rateLimitPerMinute=1000)
    keeper = server.create_app("Keeper", retentionDays=3650)
    # Recent events first, old ones last: the old rows hold the highest seqs, so deleting
    # them lets SQLite hand the same seqs out again (the rollup watermark must follow).
    r = server.track(app.public, {"fingerprint": "fp_new", "events": [
        {"eventName": "page_viewed", "timestamp": now_ms() - DAY // 2}]})
    assert r.json()["accepted"] == 1
    store_old(server.engine, keeper.id, OLD[:2])
    store_old(server.engine, app.id)
    refresh_rollups(server.engine, settle_ms=0)
    before = answers(server, app.secret)
    day, days = before["day"], before["days"]
    assert (day["events"], day["uniqueUsers"], day["sessions"]) == (4, 3, 3)
    assert (days["events"], days["uniqueUsers"], days["sessions"]) == (7, 4, 5)
    assert before["daily"]["totals"] == [2, 2, 0, 1] and before["heatmap"]["total"] == 7

    result = run_cli(database_url, "--json")
    report = {a["name"]: a for a in json.loads(result.stdout)["apps"]}
    assert report["Test"]["eventsDeleted"] == 7 and report["Test"]["days"] == 3
    assert report["Test"]["firstDay"] == to_iso(D)
    assert report["Test"]["cutoff"] == to_iso(TODAY - 90 * DAY)
    assert report["Keeper"]["eventsDeleted"] == 0
    assert to_iso(D)[:10] in result.stderr  # progress, day by day

    assert server.scalar("SELECT COUNT(*) FROM activities WHERE app_id = :a", a=app.id) == 1
    assert server.scalar("SELECT COUNT(*) FROM activities WHERE app_id = :a",
                         a=keeper.id) == 2
    daily = {(r.day, r.event_name): (r.events, r.users, r.sessions) for r in server.rows(
        "SELECT day, event_name, events, users, sessions FROM daily_rollups "
        "WHERE app_id = :a", a=app.id)}
    assert daily == {(D, "*"): (4, 3, 3), (D, "page_viewed"): (3, 2, 2),
                     (D, "signup_completed"): (1, 1, 1), (D + DAY, "*"): (2, 2, 2),
                     (D + DAY, "page_viewed"): (1, 1, 1), (D + DAY, "button_clicked"): (1, 1, 1),
                     (D + 2 * DAY, "*"): (1, 1, 1), (D + 2 * DAY, "page_viewed"): (1, 1, 1)}

    after = answers(server, app.secret)
    for name in ("day", "frequency", "daily", "heatmap"):
        assert without_source(after[name]) == without_source(before[name]), name
        assert after[name]["source"] == "rollup"
    assert after["day"]["rolledUpBefore"] == to_iso(TODAY - 90 * DAY)
    # Over several rolled-up days, distinct users and sessions are sums of daily counts.
    days = after["days"]
    assert (days["events"], days["uniqueUsers"], days["sessions"]) == (7, 3 + 2 + 1, 3 + 2 + 1)
    assert after["users"]["complete"] is False and sum(map(sum, after["users"]["matrix"])) == 0
    assert after["heatmap"]["complete"] is True

    # A second run finds nothing; new events after the deletion are still counted.
    again = json.loads(run_cli(database_url, "--json", "--app", app.id).stdout)["apps"]
    assert again[0]["eventsDeleted"] == 0
    assert server.scalar("SELECT SUM(events) FROM daily_rollups WHERE event_name = '*'") == 7
    server.track(app.public, {"fingerprint": "fp_new", "events": [
        {"eventName": "late", "timestamp": now_ms() - 30 * MIN}]})
    recent = span(TODAY - 2 * DAY, now_ms() + 60_000)
    assert get(server, app.secret, "/stats", **recent)["events"] == 2
    refresh_rollups(server.engine, settle_ms=0)
    assert get(server, app.secret, "/stats", **recent, top=3)["events"] == 2


def test_partly_rolled_up_range_answers_from_both(server, database_url):
    app = server.create_app(rateLimitPerMinute=1000)
    store_old(server.engine, app.id)
    run_cli(database_url)
    server.track(app.public, {"fingerprint": "fp_9", "events": [{"eventName": "signup_completed"}]})
    s = get(server, app.secret, "/stats", **span(D, now_ms() + 60_000), tz="UTC")
    assert s["source"] == "partial" and s["events"] == 8
    assert s["uniqueUsers"] == 6 + 1
    f = get(server, app.secret, "/analytics/events", **span(D, now_ms() + 60_000), interval="week")
    assert f["source"] == "partial"
    assert {e["eventName"]: e["count"] for e in f["events"]} == {
        "page_viewed": 5, "signup_completed": 2, "button_clicked": 1}


def test_cli_errors_and_plain_output(server, database_url):
    server.create_app("Solo")
    result = CliRunner().invoke(main, ["retention", "--database-url", database_url,
                                       "--app", "nope"])
    assert result.exit_code == 2 and "no app with id or name 'nope'" in result.stderr
    plain = run_cli(database_url)
    assert "Solo: kept from" in plain.stdout and "rollups:" in plain.stdout


def test_server_runs_retention_in_the_background(database_url, redis_url, monkeypatch):
    monkeypatch.setattr(maintenance, "FIRST_ROLLUP_AFTER_S", 0.05)
    monkeypatch.setattr(maintenance, "FIRST_RETENTION_AFTER_S", 0.1)
    engine = open_engine(database_url)
    migrate(engine)
    with write_connection(engine) as conn, conn.begin():
        new = core_apps.create_app(conn, "Bg")
    store_old(engine, new.app.id)
    engine.dispose()
    app = create_app(make_settings(database_url, redis_url))
    with TestClient(app) as client:
        server = Server(client=client, engine=app.state.growthkit.engine)
        deadline = time.monotonic() + 20
        while server.scalar("SELECT COUNT(*) FROM activities") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.scalar("SELECT COUNT(*) FROM activities") == 0
        s = get(server, new.secret_key, "/stats", **span(D, D + DAY))
        assert (s["events"], s["uniqueUsers"], s["source"]) == (4, 3, "rollup")


def test_rolled_up_buckets_stay_exact_across_dst_and_quarter_hour_zones(server, database_url):
    """Once the events are gone only the rollups answer: local hours must still be right."""
    app = server.create_app()
    iso = [  # New York fall-back 2024-11-03 06:00Z, Berlin spring-forward 2024-03-31 01:00Z
        "2024-11-03T05:30:00Z", "2024-11-03T05:59:59.999Z", "2024-11-03T06:00:00Z",
        "2024-11-03T06:30:00Z", "2024-11-03T07:10:00Z", "2024-03-31T00:59:59Z",
        "2024-03-31T01:00:00Z", "2024-03-31T01:20:00Z", "2024-05-06T18:14:59Z",
        "2024-05-06T18:15:00Z"]
    store_old(server.engine, app.id, [(parse_time(t), f"fp_{i % 3}", f"s_{i}", "a")
                                      for i, t in enumerate(iso)])
    queries = [
        ("/analytics/events", {"interval": "hour", "tz": "America/New_York",
                               "from": "2024-11-03T04:00:00Z", "to": "2024-11-04T05:00:00Z"}),
        ("/analytics/events", {"interval": "hour", "tz": "Europe/Berlin",
                               "from": "2024-03-30T23:00:00Z", "to": "2024-03-31T22:00:00Z"}),
        ("/analytics/heatmap", {"tz": "Asia/Kathmandu", "from": "2024-05-06T00:00:00Z",
                                "to": "2024-05-07T00:00:00Z"}),
        ("/analytics/heatmap", {"tz": "Europe/Berlin", "from": "2024-01-01T00:00:00Z",
                                "to": "2025-01-01T00:00:00Z"}),
    ]
    before = [get(server, app.secret, path, **params) for path, params in queries]
    ny, berlin, kathmandu, year = before
    assert ny["totals"][1:3] == [4, 1]  # 01:00 EDT + 01:00 EST merged; 02:00 EST: 07:10Z
    assert berlin["totals"][1:3] == [1, 2]  # 01:59:59 CET, then 03:00 and 03:20 CEST
    assert kathmandu["matrix"][0][23] == 1 and kathmandu["matrix"][1][0] == 1
    assert year["matrix"][6][1:4] == [1, 0, 2]  # Sunday 01:59:59 CET, 03:00 and 03:20 CEST
    run_cli(database_url)
    assert server.scalar("SELECT COUNT(*) FROM activities") == 0
    after = [get(server, app.secret, path, **params) for path, params in queries]
    for b, a in zip(before, after, strict=True):
        assert a["source"] == "rollup" and without_source(a) == without_source(b)


def test_rollup_watermark_waits_until_writes_have_settled(server):
    """PostgreSQL mode: the watermark only moves to a max(seq) seen `settle_ms` earlier."""
    app = server.create_app(rateLimitPerMinute=1000)

    def track(n: int) -> None:
        r = server.track(app.public, {"fingerprint": "fp", "events": [
            {"eventName": "x", "timestamp": now_ms() - 2 * 3_600_000}] * n})
        assert r.json()["accepted"] == n

    def refresh() -> int:
        time.sleep(0.01)
        return refresh_rollups(server.engine, settle_ms=5).rows

    def rolled() -> int:
        return server.scalar("SELECT COALESCE(SUM(events), 0) FROM rollup_hourly")

    track(3)
    assert refresh() == 0 and rolled() == 0  # first sight: only noted
    assert refresh() == 3 and rolled() == 3
    track(2)
    assert refresh() == 0  # the last observation did not include them yet
    assert refresh() == 2 and rolled() == 5
    assert refresh() == 0 and refresh() == 0
    day = span(now_ms() - DAY, now_ms() + 60_000)
    assert get(server, app.secret, "/stats", **day)["events"] == 5


def test_lead_event_counts_follow_ingest_duplicates_and_retention(server, database_url):
    app = server.create_app(rateLimitPerMinute=1000)
    store_old(server.engine, app.id)  # fp_1: 3 old events, fp_2: 1, fp_3: 2, fp_4: 1
    batch = {"fingerprint": "fp_1", "events": [{"id": f"new{i}", "eventName": "page_viewed"}
                                               for i in range(4)]}
    assert server.track(app.public, batch).json()["accepted"] == 4
    assert server.track(app.public, batch).json()["duplicates"] == 4  # retried: not counted

    def listed() -> dict[str, int]:
        rows = get(server, app.secret, "/leads", sort="events")["data"]
        return {r["fingerprint"]: r["events"] for r in rows}

    def stored() -> dict[str, int]:
        return dict(server.rows("SELECT fingerprint_id, count(*) FROM activities "
                                "WHERE app_id = :a GROUP BY fingerprint_id", a=app.id))

    assert listed() == stored() == {"fp_1": 7, "fp_2": 1, "fp_3": 2, "fp_4": 1}
    assert list(listed()) == ["fp_1", "fp_3", "fp_4", "fp_2"]  # by events, then newest id
    run_cli(database_url, "--app", app.id)
    assert listed() == {"fp_1": 4, "fp_2": 0, "fp_3": 0, "fp_4": 0}
    assert stored() == {"fp_1": 4}
    assert get(server, app.secret, "/leads/fp_1")["events"] == 4
